// Steadycart's page-facing wrappers for fetch and XMLHttpRequest.
//
// Why JavaScript and not Rust: the wrappers must behave exactly like the
// originals even if our wasm traps. Every call into the wasm hooks runs
// inside `guard`, which swallows our exceptions and turns the wrappers into
// pure pass-throughs after the first one; the page's own values (the promise,
// the Response, thrown errors, `this`, `arguments`) never pass through wasm.
// All decisions (which calls matter, what an outcome means) live in Rust.

const KEY = "__steadycart";

function methodOf(input, init) {
  if (init && init.method) return String(init.method).toUpperCase();
  if (input && typeof input === "object" && input.method) return String(input.method).toUpperCase();
  return "GET";
}

function urlOf(input) {
  const raw = typeof input === "string" ? input : input && (input.href || input.url);
  try {
    return new URL(String(raw), location.href).href;
  } catch (_) {
    return String(raw);
  }
}

function signalOf(input, init) {
  return (init && init.signal) || (input && typeof input === "object" && input.signal) || null;
}

// Install the wrappers once per page. Returns the original fetch (for the
// snippet's own requests, which must bypass the wrappers) or null when
// Steadycart is already installed on this page.
export function install(hooks) {
  const g = globalThis;
  if (g[KEY]) return null;
  const state = { disabled: false, fetch: g.fetch };
  Object.defineProperty(g, KEY, { value: state, configurable: true });

  const guard = (f) => {
    if (state.disabled) return undefined;
    try {
      return f();
    } catch (e) {
      state.disabled = true;
      try {
        console.warn("[steadycart] disabled after an internal error:", e);
      } catch (_) {}
      return undefined;
    }
  };

  const origFetch = state.fetch;
  if (typeof origFetch === "function") {
    const fetch = function fetch(input, init) {
      const token = guard(() => hooks.start(methodOf(input, init), urlOf(input)));
      // The page gets the original promise itself; we observe on the side.
      const promise = origFetch.apply(g, arguments);
      if (token !== undefined) {
        guard(() =>
          promise.then(
            (response) => guard(() => hooks.end(token, response.status)),
            () => {
              const signal = signalOf(input, init);
              guard(() => hooks.fail(token, !!(signal && signal.aborted)));
            },
          ),
        );
      }
      return promise;
    };
    g.fetch = fetch;
    state.wrappedFetch = fetch;
  }

  const proto = g.XMLHttpRequest && g.XMLHttpRequest.prototype;
  if (proto) {
    const records = new WeakMap();
    const open = proto.open;
    const send = proto.send;
    proto.open = function (method, url) {
      guard(() => {
        const rec = records.get(this) || { listening: false, token: undefined, how: 0 };
        rec.method = String(method).toUpperCase();
        rec.url = urlOf(url);
        records.set(this, rec);
      });
      return open.apply(this, arguments);
    };
    proto.send = function () {
      const xhr = this;
      guard(() => {
        const rec = records.get(xhr);
        if (!rec) return;
        rec.token = hooks.start(rec.method, rec.url);
        rec.how = 0;
        if (rec.token === undefined || rec.listening) return;
        rec.listening = true;
        // 1: network error, 2: aborted, 3: timed out.
        xhr.addEventListener("error", () => (rec.how = 1));
        xhr.addEventListener("abort", () => (rec.how = 2));
        xhr.addEventListener("timeout", () => (rec.how = 3));
        xhr.addEventListener("loadend", () => {
          const token = rec.token;
          rec.token = undefined;
          if (token === undefined) return;
          guard(() => (rec.how === 0 ? hooks.end(token, xhr.status) : hooks.fail(token, rec.how === 2)));
        });
      });
      return send.apply(this, arguments);
    };
    state.proto = proto;
    state.open = open;
    state.send = send;
    state.wrappedOpen = proto.open;
    state.wrappedSend = proto.send;
  }
  return origFetch || null;
}

// Remove the wrappers. Originals are restored only where nobody wrapped
// after us; elsewhere our wrappers stay as pure pass-throughs.
export function uninstall() {
  const g = globalThis;
  const state = g[KEY];
  if (!state) return;
  state.disabled = true;
  if (state.wrappedFetch && g.fetch === state.wrappedFetch) g.fetch = state.fetch;
  if (state.proto) {
    if (state.proto.open === state.wrappedOpen) state.proto.open = state.open;
    if (state.proto.send === state.wrappedSend) state.proto.send = state.send;
  }
}
