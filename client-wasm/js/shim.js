// Steadycart's page-facing wrappers for fetch and XMLHttpRequest.
//
// Why JavaScript and not Rust: the wrappers must behave exactly like the
// originals even if our wasm traps. Every call into the wasm hooks runs
// inside `guard`, which swallows our exceptions (the call is then simply not
// watched; after MAX_ERRORS of them the wrappers become pure pass-throughs);
// the page's own values (the promise, the Response, thrown errors, `this`,
// `arguments`) are handed back untouched. All decisions (which calls matter,
// what an outcome means) live in Rust.
//
// The hooks object (built in src/shell/runtime.rs):
//   start(method, url, body) -> token | undefined   a call begins; `body` is
//       the caller's request body value as given (never read unless it is a
//       string); undefined = not watched.
//   bodyCap(token) -> bytes    > 0 when the role wants a small JSON response
//       body to look for an application error (opt-in `app_error`).
//   end(token, status, body)   a response arrived; `body` is the parsed-later
//       text (fetch: from a clone()) or the XHR's `response`, or undefined.
//   fail(token, aborted)       network error / timeout, or aborted by the page.
//   substitute(token, promise) -> promise | undefined   OPTIONAL SEAM for
//       stale-if-error (fallback, issue 6): called only for watched GET
//       fetches, after start. Return a promise to hand to the page instead of
//       the original one (it must settle like fetch would: a Response or a
//       rejection); return undefined to leave the page's promise untouched.
//       The wasm side must only answer for `price` calls. Exceptions and
//       non-thenables are ignored (the page gets the original promise).

const KEY = "__steadycart";
const MAX_ERRORS = 3;

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

// A small JSON body we may read from a clone: declared length under the cap,
// JSON content type. Streamed bodies (no Content-Length) are never cloned.
function smallJson(headers, cap) {
  const type = headers("content-type") || "";
  const len = Number(headers("content-length"));
  return cap > 0 && /json/i.test(type) && len > 0 && len <= cap;
}

// Install the wrappers once per page. Returns the original fetch (for the
// snippet's own requests, which must bypass the wrappers) or null when
// Steadycart is already installed on this page.
export function install(hooks) {
  const g = globalThis;
  if (g[KEY]) return null;
  const state = { disabled: false, errors: 0, fetch: g.fetch, uninstall };
  Object.defineProperty(g, KEY, { value: state, configurable: true });

  // `late`: the call was already under way, so finish watching it even if
  // the snippet was uninstalled meanwhile (only internal errors stop it).
  const guard = (f, late) => {
    if (state.disabled || (state.off && !late)) return undefined;
    try {
      return f();
    } catch (e) {
      if (++state.errors >= MAX_ERRORS) state.disabled = true;
      try {
        console.warn("[steadycart] internal error, call not watched:", e);
      } catch (_) {}
      return undefined;
    }
  };
  // Observe a promise on the side; the derived promise never rejects, so no
  // extra `unhandledrejection` reaches the page.
  const observe = (p, ok, err) => guard(() => p.then((v) => guard(() => ok(v), 1), (e) => guard(() => err(e), 1)), 1);

  const origFetch = state.fetch;
  if (typeof origFetch === "function") {
    // One declared parameter, like the native fetch (`fetch.length === 1`).
    const fetch = function fetch(input) {
      const init = arguments[1];
      let method;
      const token = guard(() => {
        method = methodOf(input, init);
        return hooks.start(method, urlOf(input), init && init.body);
      });
      // The page gets the original promise itself; we observe on the side.
      const promise = origFetch.apply(g, arguments);
      if (token === undefined) return promise;
      observe(
        promise,
        (response) => {
          const cap = hooks.bodyCap(token);
          if (!(response.ok && smallJson((h) => response.headers.get(h), cap))) return hooks.end(token, response.status);
          const status = response.status;
          const read = response.clone().text();
          const late = new Promise((r) => setTimeout(r, 1000));
          observe(Promise.race([read, late]), (text) => hooks.end(token, status, text), () => hooks.end(token, status));
        },
        () => {
          const signal = signalOf(input, init);
          hooks.fail(token, !!(signal && signal.aborted));
        },
      );
      if (method === "GET" && typeof hooks.substitute === "function") {
        const other = guard(() => hooks.substitute(token, promise), 1);
        if (other && typeof other.then === "function") return other;
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
    // A re-opened XHR cancels its request without any event: report it.
    const cancel = (rec) => {
      const token = rec.token;
      rec.token = undefined;
      if (token !== undefined) hooks.fail(token, true);
    };
    proto.open = function (method, url) {
      guard(() => {
        const rec = records.get(this) || { listening: false, token: undefined, how: 0 };
        cancel(rec);
        rec.method = String(method).toUpperCase();
        rec.url = urlOf(url);
        records.set(this, rec);
      });
      return open.apply(this, arguments);
    };
    proto.send = function (body) {
      const xhr = this;
      guard(() => {
        const rec = records.get(xhr);
        if (!rec) return;
        cancel(rec);
        rec.token = hooks.start(rec.method, rec.url, body);
        rec.how = 0;
        if (rec.token === undefined || rec.listening) return;
        rec.listening = true;
        // 1: network error, 2: aborted, 3: timed out.
        xhr.addEventListener("error", () => (rec.how = 1));
        xhr.addEventListener("abort", () => (rec.how = 2));
        xhr.addEventListener("timeout", () => (rec.how = 3));
        // Report at DONE with a status (some libraries abort completed
        // requests), else at loadend.
        const done = () => {
          const token = rec.token;
          if (token === undefined) return;
          if (rec.how === 0 && xhr.readyState === 4 && xhr.status > 0) {
            rec.token = undefined;
            const type = xhr.responseType;
            const cap = hooks.bodyCap(token);
            let body;
            if (xhr.status < 300 && smallJson((h) => xhr.getResponseHeader(h), cap)) {
              if (type === "json") body = xhr.response;
              else if (type === "" || type === "text") body = xhr.responseText;
            }
            hooks.end(token, xhr.status, body);
          }
        };
        xhr.addEventListener("readystatechange", () => guard(done, 1));
        xhr.addEventListener("loadend", () =>
          guard(() => {
            done();
            const token = rec.token;
            rec.token = undefined;
            if (token !== undefined) hooks.fail(token, rec.how === 2);
          }, 1),
        );
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

// Remove the wrappers (also reachable as `window.__steadycart.uninstall()`).
// Originals are restored only where nobody wrapped after us; elsewhere our
// wrappers stay as pure pass-throughs. The marker stays, so a second copy of
// the tag cannot install again on this page.
export function uninstall() {
  const g = globalThis;
  const state = g[KEY];
  if (!state) return;
  state.off = true;
  if (state.wrappedFetch && g.fetch === state.wrappedFetch) g.fetch = state.fetch;
  if (state.proto) {
    if (state.proto.open === state.wrappedOpen) state.proto.open = state.open;
    if (state.proto.send === state.wrappedSend) state.proto.send = state.send;
  }
}
