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
//   bodyCap(token, status?) -> bytes    > 0 when the role wants a small JSON
//       response body (opt-in `app_error`, cart snapshots); fetch passes the
//       status, kept in case the page leaves before the body is read.
//   end(token, status, body)   a response arrived; `body` is the parsed-later
//       text (fetch: from a clone()) or the XHR's `response`, or undefined.
//   fail(token, aborted)       network error / timeout, or aborted by the page.
//   substitute(token, promise, signal) -> promise | undefined   SEAM for
//       stale-if-error: called only for watched GET fetches, after start.
//       Return a promise to hand to the page instead of the original one (it
//       must settle like fetch would: a Response or a rejection); return
//       undefined to leave the page's promise untouched. The wasm side only
//       answers for opted-in `price` calls (src/stale.rs), through
//       `serveStale` below. Exceptions and non-thenables are ignored (the
//       page gets the original promise).
//   keep(url, status, headers, body)   a small good response to keep for
//       stale-if-error (headers as "name: value" lines).
//   staleFor(status, aborted) -> bool   whether a live result (status 0 =
//       network error) is a failure the kept copy should stand in for.
//   route(path)   a single-page app changed its route: history.pushState /
//       replaceState (after the original ran) or popstate.

const KEY = "__steadycart";
const MAX_ERRORS = 3;
// The installed hooks and guard, for serveStale.
let H, G;

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
  H = hooks;
  G = guard;

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
          const cap = hooks.bodyCap(token, response.status);
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
        const other = guard(() => hooks.substitute(token, promise, signalOf(input, init)), 1);
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

  // SPA routing: the History API's own methods, wrapped on the history
  // object (the prototype stays untouched), and popstate.
  const hist = g.history;
  if (hist && typeof hooks.route === "function") {
    const route = () => guard(() => hooks.route(location.pathname));
    state.hist = [];
    for (const name of ["pushState", "replaceState"]) {
      const orig = hist[name];
      if (typeof orig !== "function") continue;
      const own = Object.prototype.hasOwnProperty.call(hist, name);
      // Same name and length as the native method.
      const wrapped = {
        [name](data, unused) {
          const result = orig.apply(this, arguments);
          route();
          return result;
        },
      }[name];
      hist[name] = wrapped;
      state.hist.push([name, orig, wrapped, own]);
    }
    g.addEventListener("popstate", route);
    state.route = route;
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
  const hist = g.history;
  for (const [name, orig, wrapped, own] of state.hist || []) {
    if (hist[name] !== wrapped) continue;
    if (own) hist[name] = orig;
    else delete hist[name];
  }
  if (state.route) g.removeEventListener("popstate", state.route);
}

// Stale-if-error wiring for one opted-in price GET (decisions are the
// wasm's: src/stale.rs). Keeps a small good live response (read from a
// clone) under `url`. With a kept copy (`cached` = [status, headers, body])
// it returns the promise the page gets instead of the live one: the live
// Response itself when it is fine, else the copy marked
// `x-steadycart-stale: 1` when the live call fails or is still pending after
// `waitMs`. The page's own abort always rejects with its own error. A
// promise settles once, so a late live result is never delivered twice.
export function serveStale(live, url, cap, waitMs, cached, signal) {
  const keep = (r) =>
    G(() => {
      const len = Number(r.headers.get("content-length"));
      if (!(r.ok && len >= 0 && len <= cap && r.headers.has("content-length"))) return;
      const status = r.status;
      const headers = [...r.headers].map((h) => h[0] + ": " + h[1]).join("\n");
      r.clone()
        .text()
        .then((body) => G(() => H.keep(url, status, headers, body), 1), () => {});
    }, 1);
  if (!cached) {
    live.then(keep, () => {});
    return undefined;
  }
  return new Promise((resolve, reject) => {
    // Resolve with the marked copy; false if it cannot be built.
    const stale = () => {
      try {
        const h = new Headers();
        for (const line of cached[1].split("\n")) {
          const i = line.indexOf(": ");
          if (i > 0) h.append(line.slice(0, i), line.slice(i + 2));
        }
        h.set("x-steadycart-stale", "1");
        resolve(new Response(cached[2], { status: cached[0], headers: h }));
        return true;
      } catch (_) {
        return false;
      }
    };
    const timer = setTimeout(stale, waitMs);
    live.then(
      (r) => {
        clearTimeout(timer);
        keep(r);
        if (!(G(() => H.staleFor(r.status, false), 1) && stale())) resolve(r);
      },
      (e) => {
        clearTimeout(timer);
        const aborted = !!(signal && signal.aborted);
        if (!(G(() => H.staleFor(0, aborted), 1) && stale())) reject(e);
      },
    );
  });
}
