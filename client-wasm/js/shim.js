// The wasm's side of the page-facing wrappers. The wrappers themselves are
// installed by the loader (`steadycart.js`) at script start, before the
// wasm has loaded, and queue what the page's calls do; `install` hands them
// the hooks (the contract is documented there), and the queued calls reach
// the wasm right after its start returns.

// The wrappers' state (see `watch` in steadycart.js).
let S;

// Take over the wrappers the loader installed, with the hooks they call
// (the contract is `watch`'s in steadycart.js): every hook goes to the
// wasm's one dispatcher `d(hook, a, b, c, d)`, numbered as `on_hook` in
// src/shell/runtime.rs (one closure type in the wasm instead of eight).
// Returns the original fetch (for the snippet's own requests, which must
// bypass the wrappers) or null when another copy of Steadycart already
// runs on this page (or none was installed).
export function install(d, prefixes, inspect, stale) {
  S = globalThis[Symbol.for("steadycart.watch")];
  return S && S.attach
    ? S.attach({
        prefixes,
        inspect,
        stale,
        start: (m, u, b, at) => d(0, m, u, b, at),
        bodyCap: (t, s) => d(1, t, s),
        end: (t, s, b, at) => d(2, t, s, b, at),
        fail: (t, a, at) => d(3, t, a, at),
        route: (p) => d(4, p),
        substitute: (t, live, signal) => d(5, t, live, signal),
        keep: (u, s, h, b) => d(6, u, s, h, b),
        staleFor: (s, a) => d(7, s, a),
      })
    : null;
}

// Remove the wrappers (also reachable as `window.__steadycart.uninstall()`).
// Originals are restored only where nobody wrapped after us; elsewhere our
// wrappers stay as pure pass-throughs. The marker stays, so a second copy of
// the tag cannot install again on this page.
export function uninstall() {
  if (S) S.uninstall();
}

// Hook calls the wrappers still queue reach the wasm now (before it decides
// a pending call has stalled). Never call it while holding the runtime.
export function drain() {
  if (S) S.drain();
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
    S.guard(() => {
      const len = Number(r.headers.get("content-length"));
      if (!(r.ok && len >= 0 && len <= cap && r.headers.has("content-length"))) return;
      const status = r.status;
      const headers = [...r.headers].map((h) => h[0] + ": " + h[1]).join("\n");
      r.clone()
        .text()
        .then((body) => S.guard(() => S.hooks.keep(url, status, headers, body), 1), () => {});
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
        if (!(S.guard(() => S.hooks.staleFor(r.status, false), 1) && stale())) resolve(r);
      },
      (e) => {
        clearTimeout(timer);
        const aborted = !!(signal && signal.aborted);
        if (!(S.guard(() => S.hooks.staleFor(0, aborted), 1) && stale())) reject(e);
      },
    );
  });
}

// The snippet's own request over `fetch` (the page's original, so the
// wrappers never see it): with `body`, a POST of a batch (CORS-simple
// text/plain, `keepalive` so it may outlive the page), answered by
// `d(9, status, retryAfter, tag)` (no status: network error); without, a
// GET of the remote config revalidated with the server (`no-cache`: the
// ETag makes it a cheap 304), answered by `d(8, text)` (no text: not 2xx
// or failed). Always answered later, never from inside this call, and
// nothing it does can reject or throw into the page.
export function send(d, fetch, url, body, tag) {
  const get = body == null;
  const back = (a, b) => {
    try {
      d(get ? 8 : 9, a, b, tag);
    } catch (_) {}
  };
  new Promise((ok) =>
    ok(
      fetch.call(
        globalThis,
        url,
        get
          ? { method: "GET", credentials: "omit", mode: "cors", cache: "no-cache" }
          : { method: "POST", body, keepalive: true, credentials: "omit", mode: "cors" },
      ),
    ),
  )
    .then((r) => (get ? (r.ok ? r.text() : undefined) : [r.status, r.headers.get("retry-after")]))
    .then((v) => (get ? back(v) : back(v[0], v[1])), () => back());
}
