// Steadycart loader and JS API: the one file a shop's script tag points at.
// A classic script, so it runs where the tag stands:
//   <script src="https://COLLECTOR/snippet/steadycart.js"
//           data-site="SITE_KEY" data-collector="https://COLLECTOR" ...></script>
// - plain (synchronous) tag: the fetch/XHR wrappers are in before the next
//   script of the page runs, so every call the page makes is watched;
// - `async` / `defer` / `type="module"`: the page does not wait for this
//   file, and only calls made after it ran are watched.
// The wasm comes after, through a dynamic `import()` (allowed in classic
// scripts; it resolves against this script's own URL). With a tag it starts
// by itself; an app without the tag calls `Steadycart.init(config)`. The
// API is `window.Steadycart`; the npm package adds ES module exports of the
// same object. Loading problems leave the page exactly as it was without
// us: one console warning, nothing thrown at the page.
(() => {
  "use strict";
  const g = globalThis;
  // One copy per page: a second one (the tag twice, or the tag and the npm
  // package) stands aside, and the first copy's API serves both.
  const API = Symbol.for("steadycart.api");
  if (g[API]) return;
  const doc = typeof document !== "undefined" ? document : null;
  // Our own <script> while a classic tag runs (null as a module or import).
  const me = doc && doc.currentScript;
  // Start by ourselves only when the page configures us: a tag with
  // `data-site`, or a `steadycart-config` object (placed before the tag).
  // A classic tag is `me`; a module tag is found by its attribute or name.
  // Bundled into an app (the npm package), nothing matches and we wait for
  // `init`.
  let tag = null;
  try {
    if (me) {
      if (me.hasAttribute("data-site") || doc.getElementById("steadycart-config")) tag = me;
    } else if (doc && (doc.getElementById("steadycart-config") || doc.querySelector("script[data-site]"))) {
      tag =
        doc.querySelector("script[data-site]") ||
        [...doc.querySelectorAll("script[src]")].find((s) => /\/steadycart\.js([?#]|$)/.test(s.src)) ||
        null;
    }
  } catch (_) {}
  // The script's URL (its origin is the default collector).
  const here = (me && me.src) || (tag && tag.src) || (typeof location !== "undefined" ? location.href : "");
  const EVENTS = ["trouble", "recovered", "survey"];

  /** Every error the API throws: `code` says which kind, `option` which option or argument. */
  class SteadycartError extends Error {
    constructor(message, code, option) {
      super(message);
      this.name = "SteadycartError";
      this.code = code;
      if (option) this.option = option;
    }
  }
  /** A configuration option is wrong; `option` names it. */
  class ConfigError extends SteadycartError {
    constructor(message, option) {
      super(message, "config", option);
      this.name = "SteadycartConfigError";
    }
  }
  /** `identify` without complete consent (`{text, version}` as shown to the shopper). */
  class ConsentError extends SteadycartError {
    constructor(message, option) {
      super(message, "consent", option);
      this.name = "SteadycartConsentError";
    }
  }
  /** A bad argument (cart item, order id, event name, callback). */
  class ArgumentError extends SteadycartError {
    constructor(message, option) {
      super(message, "argument", option);
      this.name = "SteadycartArgumentError";
    }
  }
  /** The call does not fit the snippet's state (already running, uninstalled). */
  class StateError extends SteadycartError {
    constructor(message) {
      super(message, "state");
      this.name = "SteadycartStateError";
    }
  }

  const warn = (...args) => {
    try {
      console.warn("[steadycart]", ...args);
    } catch (_) {}
  };

  // ---- Watching fetch and XMLHttpRequest ----------------------------------
  // The wrappers live here, in the loader, because this is the one file that
  // runs before the wasm has loaded: installed at script start, they keep what
  // the page's calls do (start, response, failure, each with its time) in a
  // queue, which the wasm takes over once it runs (`attach`, through
  // `snippets/…/js/shim.js`). Later the same queue takes the hook calls off the
  // page's path: they are handed to the wasm in one batch a little later
  // (`BATCH_MS`), at once when the page hides or leaves, and before a stall
  // notice or an API call. If the wasm never attaches, the queue is dropped and
  // the originals go back.
  //
  // Why JavaScript and not Rust: the wrappers must behave exactly like the
  // originals even if our wasm traps. Every call into the hooks runs inside
  // `guard`, which swallows our exceptions (the call is then simply not
  // watched; after MAX_ERRORS of them the wrappers become pure pass-throughs);
  // the page's own values (the promise, the Response, thrown errors, `this`,
  // `arguments`) are handed back untouched. All decisions (which calls matter,
  // what an outcome means) live in Rust.
  //
  // The hooks object (built in src/shell/runtime.rs); `at` is the moment the
  // thing happened (`Date.now()`), which may be a little before the call:
  //   start(method, url, body, at) -> token | undefined   a call begins;
  //       `body` is the request body if it is a string; undefined = not watched.
  //   bodyCap(token, status?) -> bytes    > 0 when the role wants a small JSON
  //       response body (opt-in `app_error`, cart snapshots); fetch passes the
  //       status, kept in case the page leaves before the body is read.
  //   end(token, status, body, at)   a response arrived; `body` is the text
  //       (fetch: from a clone()) or the XHR's `response`, or undefined.
  //   fail(token, aborted, at)   network error / timeout, or aborted by the page.
  //   route(path)   a single-page app changed its route: history.pushState /
  //       replaceState (after the original ran) or popstate.
  //   substitute(token, promise, signal) -> promise | undefined   SEAM for
  //       stale-if-error, for watched GET fetches (see shim.js, serveStale).
  //   keep(url, status, headers, body), staleFor(status, aborted)   its helpers.
  // and plain values:
  //   prefixes: URL prefixes (origin + literal path start) a watched call's
  //       absolute URL starts with; calls matching none never reach the wasm.
  //   inspect: some role may want response bodies (bodyCap is worth asking).
  //   stale: some rule opted in to stale-if-error (substitute is worth asking).
  const W = Symbol.for("steadycart.watch");
  const MARKER = "__steadycart";
  const MAX_ERRORS = 3;
  // Calls started before the wasm runs that are kept for it; later ones are
  // not watched (a page whose wasm never comes keeps a bounded queue).
  const MAX_EARLY = 64;
  // How long hook calls may wait in the queue, ms (stall notices are timed
  // from each call's own start, not from when the wasm sees it).
  const BATCH_MS = 50;
  // Response body bytes read for calls answered before the wasm runs
  // (config::APP_ERROR_BODY_CAP, what the wasm asks of live calls).
  const EARLY_CAP = 16 * 1024;

  const methodOf = (input, init) =>
    init && init.method
      ? String(init.method).toUpperCase()
      : input && typeof input === "object" && input.method
        ? String(input.method).toUpperCase()
        : "GET";

  // A path on this origin that the URL parser would leave as it is (no dot
  // segments, escapes or characters it encodes): origin + path, without
  // parsing. Most calls a shop makes look like this.
  const PLAIN = /^\/(?![/\\])[\w\-/]*(?:\?[\w\-.=&,:+~/%]*)?$/;
  const ORIGIN = typeof location !== "undefined" && /^https?:/.test(location.origin) ? location.origin : "";

  function urlOf(input) {
    const raw = typeof input === "string" ? input : input && (input.href || input.url);
    if (ORIGIN && typeof raw === "string" && PLAIN.test(raw)) return ORIGIN + raw;
    try {
      return new URL(String(raw), location.href).href;
    } catch (_) {
      return String(raw);
    }
  }

  const signalOf = (input, init) => (init && init.signal) || (input && typeof input === "object" && input.signal) || null;

  // A small JSON body we may read from a clone: declared length under the cap,
  // JSON content type. Streamed bodies (no Content-Length) are never cloned.
  function smallJson(type, length, cap) {
    const len = Number(length);
    return cap > 0 && /json/i.test(type || "") && len > 0 && len <= cap;
  }

  // Install the wrappers (once per page: a second copy of the tag finds them).
  // Returns their state, or null when already installed.
  function watch() {
    const g = globalThis;
    if (g[W] || g[MARKER]) return null;
    const S = { disabled: false, off: false, errors: 0, fetch: g.fetch, hooks: null, q: [], early: 0, due: 0 };
    Object.defineProperty(g, W, { value: S, configurable: true });

    // One of our exceptions: the call is not watched; after MAX_ERRORS the
    // wrappers are pure pass-throughs.
    const oops = (e) => {
      if (++S.errors >= MAX_ERRORS) S.disabled = true;
      warn("internal error, call not watched:", e);
    };
    // `late`: the call was already under way, so finish watching it even if
    // the snippet was uninstalled meanwhile (only internal errors stop it).
    // The wrappers' per-call paths use try/catch and `oops` inline instead
    // (no closure per call).
    const guard = (f, late) => {
      if (S.disabled || (S.off && !late)) return undefined;
      try {
        return f();
      } catch (e) {
        oops(e);
        return undefined;
      }
    };
    // `f(a, b, c)` with our exceptions kept from the page: for the per-call
    // paths, which call shared functions rather than build a closure.
    const attempt = (f, a, b, c) => {
      try {
        return f(a, b, c);
      } catch (e) {
        oops(e);
        return undefined;
      }
    };
    S.guard = guard;
    // Observe a promise on the side; the derived promise never rejects, so no
    // extra `unhandledrejection` reaches the page.
    const observe = (p, ok, err) => guard(() => p.then((v) => guard(() => ok(v), 1), (e) => guard(() => err(e), 1)), 1);

    // The queue, flat (six slots an entry, no array per entry): kind,
    // record, a, b, c, at; kinds 0 start, 1 end, 2 fail, 3 route. A record
    // is one watched call; `t` is its wasm token.
    const step = (h, kind, rec, a, b, c, at) => {
      if (kind === 0) rec.t = h.start(a, b, c, at);
      else if (kind === 3) h.route(a);
      else if (rec.t !== undefined) {
        if (kind === 1) h.end(rec.t, a, b, at);
        else h.fail(rec.t, a, at);
        rec.t = undefined;
      }
    };
    const drain = () => {
      const h = S.hooks;
      const q = S.q;
      if (!h || !q.length) return;
      clearTimeout(S.due);
      S.due = 0;
      S.q = [];
      for (let i = 0; i < q.length && !S.disabled; i += 6) {
        try {
          step(h, q[i], q[i + 1], q[i + 2], q[i + 3], q[i + 4], q[i + 5]);
        } catch (e) {
          oops(e);
        }
      }
    };
    const push = (kind, rec, a, b, c) => {
      S.q.push(kind, rec, a, b, c, Date.now());
      if (S.hooks && !S.due) S.due = setTimeout(S.drain, BATCH_MS);
    };
    S.drain = () => guard(drain, 1);
    // Whether the wasm may watch a call to `url` (false once it runs and no
    // rule's prefix fits; before that anything may be).
    const watched = (url) => {
      if (!S.hooks) return true;
      const p = S.prefixes;
      for (let i = 0; i < p.length; i++) if (url.startsWith(p[i])) return true;
      return false;
    };
    // A call begins (`watched(url)` was true): a record if it is watched.
    const begin = (method, url, body) => {
      if (!S.hooks && ++S.early > MAX_EARLY) return undefined;
      const rec = { method };
      push(0, rec, method, url, typeof body === "string" ? body : undefined);
      return rec;
    };
    // The call's ending, once.
    const end = (rec, status, body) => {
      if (rec.done) return;
      rec.done = 1;
      push(1, rec, status, body);
    };
    const fail = (rec, aborted) => {
      if (rec.done) return;
      rec.done = 1;
      push(2, rec, aborted);
    };
    // The wasm token of a record, now (only where a decision needs it).
    const token = (rec) => {
      drain();
      return rec.t;
    };
    // How much of the response body the wasm wants (0 when it never does).
    // Before the wasm runs nobody knows yet: a call answered then has a
    // small JSON body read (up to the wasm's own cap) and handed over with
    // its end when the queue is replayed, as a live call's would be.
    const cap = (rec, status) => {
      if (!S.hooks) return EARLY_CAP;
      if (!S.inspect) return 0;
      const t = token(rec);
      return t === undefined ? 0 : S.hooks.bodyCap(t, status);
    };

    const origFetch = S.fetch;
    if (typeof origFetch === "function") {
      // One declared parameter, like the native fetch (`fetch.length === 1`).
      // A fetch begins: its record if it may be watched.
      const fetched = (input, init) => {
        const url = urlOf(input);
        return watched(url) ? begin(methodOf(input, init), url, init && init.body) : undefined;
      };
      const fetch = function fetch(input) {
        const init = arguments[1];
        const rec = S.disabled || S.off ? undefined : attempt(fetched, input, init);
        // The page gets the original promise itself; we observe on the side.
        const promise = origFetch.apply(g, arguments);
        if (rec === undefined) return promise;
        observe(
          promise,
          (response) => {
            const status = response.status;
            const bytes = cap(rec, status);
            if (!(bytes && response.ok && smallJson(response.headers.get("content-type"), response.headers.get("content-length"), bytes))) return end(rec, status);
            const read = response.clone().text();
            const late = new Promise((r) => setTimeout(r, 1000));
            observe(Promise.race([read, late]), (text) => end(rec, status, text), () => end(rec, status));
          },
          () => {
            const signal = signalOf(input, init);
            fail(rec, !!(signal && signal.aborted));
          },
        );
        if (S.stale && rec.method === "GET") {
          const other = guard(() => {
            const t = token(rec);
            return t === undefined ? undefined : S.hooks.substitute(t, promise, signalOf(input, init));
          }, 1);
          if (other && typeof other.then === "function") return other;
        }
        return promise;
      };
      g.fetch = fetch;
      S.wrappedFetch = fetch;
    }

    const proto = g.XMLHttpRequest && g.XMLHttpRequest.prototype;
    if (proto) {
      // Per XHR that may be watched: {method, url, rec, aborted, listening}.
      // XHRs to other URLs get nothing. A watched XHR object gets one shared
      // `loadend` listener (`this` is the XHR), added once: every event a
      // listener receives costs the page's main thread, and `readystatechange`
      // alone fires three times per call. `abort` is wrapped instead of
      // listened to: it says which endings the page chose.
      const records = new WeakMap();
      const nativeOpen = proto.open;
      const nativeSend = proto.send;
      const nativeAbort = proto.abort;
      // A re-opened XHR cancels its request without any event: report it.
      const cancel = (x) => {
        const rec = x.rec;
        x.rec = undefined;
        if (rec) fail(rec, true);
      };
      // The XHR wrappers' helpers, as methods (the minified file names a
      // method for free).
      const X = {
        loadend() {
          const x = records.get(this);
          if (!S.disabled && x !== undefined && x.rec !== undefined) attempt(X.ended, this, x);
        },
        // A response that has fully arrived (DONE with a status) ends the
        // call, also when the page then aborts or re-opens the XHR from its
        // own load or readystatechange handler (some libraries do; no
        // loadend follows then).
        done(xhr, x) {
          const rec = x.rec;
          if (rec === undefined || x.aborted || xhr.readyState !== 4) return;
          const status = xhr.status;
          if (!(status > 0)) return;
          x.rec = undefined;
          const bytes = status < 300 ? cap(rec) : 0;
          let body;
          if (bytes && smallJson(xhr.getResponseHeader("content-type"), xhr.getResponseHeader("content-length"), bytes)) {
            const type = xhr.responseType;
            if (type === "json") body = xhr.response;
            else if (type === "" || type === "text") body = xhr.responseText;
          }
          end(rec, status, body);
        },
        // loadend: a response, else a network error or timeout (status 0),
        // or the page's abort.
        ended(xhr, x) {
          X.done(xhr, x);
          const rec = x.rec;
          x.rec = undefined;
          if (rec !== undefined) fail(rec, x.aborted);
        },
        // The page aborts: a call still under way is reported aborted (its
        // loadend comes from inside the native abort).
        aborting(xhr, x) {
          X.done(xhr, x);
          if (x.rec !== undefined) x.aborted = true;
        },
        opened(xhr, method, url) {
          let x = records.get(xhr);
          if (x !== undefined) {
            X.done(xhr, x);
            cancel(x);
            x.url = undefined;
          }
          const abs = urlOf(url);
          if (!watched(abs)) return;
          if (x === undefined) records.set(xhr, (x = { method: "", url: "", rec: undefined, aborted: false, listening: false }));
          x.method = String(method).toUpperCase();
          x.url = abs;
        },
        sent(xhr, x, body) {
          cancel(x);
          x.aborted = false;
          // The wasm may have come since `open`.
          x.rec = watched(x.url) ? begin(x.method, x.url, body) : undefined;
          if (x.rec === undefined || x.listening) return;
          x.listening = true;
          xhr.addEventListener("loadend", X.loadend);
        },
      };
      // Named and with the lengths of the natives (open 2, send 0, abort 0).
      proto.open = function open(method, url) {
        if (!(S.disabled || S.off)) attempt(X.opened, this, method, url);
        return nativeOpen.apply(this, arguments);
      };
      proto.send = function send() {
        const x = records.get(this);
        if (!(S.disabled || S.off) && x !== undefined && x.url !== undefined) attempt(X.sent, this, x, arguments[0]);
        return nativeSend.apply(this, arguments);
      };
      // Not stopped by an uninstall (`S.off`): while this wrapper is still
      // reached (the page wrapped `abort` after us), a call under way is
      // watched to its end, as the loadend listener does.
      proto.abort = function abort() {
        const x = records.get(this);
        if (!S.disabled && x !== undefined && x.rec !== undefined) attempt(X.aborting, this, x);
        return nativeAbort.apply(this, arguments);
      };
      S.proto = proto;
      S.xhr = [
        ["open", nativeOpen, proto.open],
        ["send", nativeSend, proto.send],
        ["abort", nativeAbort, proto.abort],
      ];
    }

    // SPA routing: the History API's own methods, wrapped on the history
    // object (the prototype stays untouched), and popstate.
    const hist = g.history;
    if (hist) {
      const route = () => guard(() => S.hooks && push(3, null, location.pathname));
      S.hist = [];
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
        S.hist.push([name, orig, wrapped, own]);
      }
      g.addEventListener("popstate", route);
      S.route = route;
    }

    // The wasm must see every call before it acts on what the page does next:
    // the page hiding or leaving, and the exit intents the survey watches
    // (pointer leaving the top, scrolling, going back). These listeners come
    // before the wasm's own (registered earlier, or capturing on window).
    const now = () => S.drain();
    const early = [
      [g, "pagehide", false],
      [g, "popstate", false],
      [g, "mouseout", true],
      [g, "scroll", true],
    ];
    if (typeof document !== "undefined") early.push([document, "visibilitychange", false]);
    for (const [target, type, capture] of early) target.addEventListener(type, now, { capture, passive: true });

    // Remove the wrappers (also `window.__steadycart.uninstall()`). Originals
    // are restored only where nobody wrapped after us; elsewhere our wrappers
    // stay as pure pass-throughs. True when everything was restored.
    S.uninstall = () => {
      S.off = true;
      let all = true;
      if (S.wrappedFetch) {
        if (g.fetch === S.wrappedFetch) g.fetch = S.fetch;
        else all = false;
      }
      for (const [name, native, wrapped] of S.xhr || []) {
        if (S.proto[name] === wrapped) S.proto[name] = native;
        else all = false;
      }
      for (const [name, orig, wrapped, own] of S.hist || []) {
        if (hist[name] !== wrapped) {
          all = false;
          continue;
        }
        if (own) hist[name] = orig;
        else delete hist[name];
      }
      if (S.route) g.removeEventListener("popstate", S.route);
      return all;
    };
    // The wasm takes over (called through shim.js while it starts): the
    // queued calls are replayed once its start has returned. Returns the
    // original fetch, for the snippet's own requests, or null when another
    // copy already took over.
    S.attach = (hooks) => {
      if (S.hooks || S.off || S.disabled) return null;
      S.hooks = hooks;
      S.prefixes = hooks.prefixes || [""];
      S.inspect = !!hooks.inspect;
      S.stale = !!hooks.stale && typeof hooks.substitute === "function";
      S.early = 0;
      Object.defineProperty(g, MARKER, { value: S, configurable: true });
      S.due = setTimeout(S.drain, 0);
      return origFetch || null;
    };
    // The wasm never came (or stayed out of the way): drop the queue, put the
    // originals back and forget us, so the page is as it was.
    S.abandon = () => {
      if (S.hooks) return;
      S.q = [];
      for (const [target, type, capture] of early) target.removeEventListener(type, now, { capture });
      if (S.uninstall()) delete g[W];
    };
    return S;
  }

  // Our wrappers' state when this copy of the loader installed them.
  let watching = null;
  // Give the wrappers up unless the wasm took them over.
  const abandon = () => {
    if (watching) watching.abandon();
    if (watching && !watching.hooks) watching = null;
  };
  // Hook calls still queued go to the wasm first (API calls come after them).
  const drainHooks = () => {
    const s = globalThis[W];
    if (s && s.drain) s.drain();
  };

  let core = null; // the wasm module, once running
  let phase = "idle"; // idle | starting | running | failed | removed
  let queue = []; // calls made before the snippet runs
  const listeners = { trouble: [], recovered: [], survey: [] };
  let ready_;
  /** Resolves once the snippet runs on this page (never rejects). */
  const ready = new Promise((r) => (ready_ = r));

  // Called by the wasm core. Callbacks run after our own code returned, each
  // on its own: a throwing callback reaches neither the page nor the snippet.
  function emit(kind, detail) {
    for (const cb of (listeners[kind] || []).slice()) {
      Promise.resolve(detail)
        .then(cb)
        .catch((e) => warn(`an on('${kind}') callback threw:`, e));
    }
  }

  async function loadCore() {
    // A literal path, so bundlers see it too; in a browser it resolves
    // against this script's URL, except from a cross-origin classic script
    // without `crossorigin` (the usual tag), whose base URL is about:blank:
    // then against its `src`.
    const c = await import("./steadycart_core.js").catch((e) => {
      if (!(me && me.src)) throw e;
      return import(/* @vite-ignore */ /* webpackIgnore: true */ new URL("steadycart_core.js", me.src).href);
    });
    // --target web glue fetches its wasm from beside itself; bundler glue is
    // ready as is.
    if (typeof c.default === "function") await c.default({});
    return c;
  }

  function started(c, ok) {
    core = c;
    abandon();
    if (phase === "removed") {
      if (ok) c.remove();
      return;
    }
    phase = ok ? "running" : "failed";
    const q = queue;
    queue = [];
    if (!ok) return;
    for (const f of q) {
      try {
        f();
      } catch (e) {
        warn(e && e.message ? e.message : e);
      }
    }
    ready_();
  }

  // Run now when running, queue while starting; no-op when it failed.
  function run(f) {
    if (phase === "removed") throw new StateError("Steadycart was uninstalled from this page");
    if (phase === "running") {
      drainHooks();
      return f();
    }
    if (phase !== "failed") queue.push(f);
  }

  const split = (e) => String(e).split("\t");

  /**
   * Start without a script tag. `config` holds the tag's options without
   * `data-`, in kebab or camel case (`checkout` / `stallMsPrice`); arrays
   * are joined with commas. Rejects with a ConfigError naming the option
   * (fix it and call again) or a StateError.
   */
  function init(config) {
    if (!config || typeof config !== "object" || Array.isArray(config)) {
      return Promise.reject(new ArgumentError("init(config) needs a configuration object", "config"));
    }
    if (phase !== "idle") {
      return Promise.reject(new StateError("Steadycart is already started on this page"));
    }
    phase = "starting";
    try {
      watching = watching || watch();
    } catch (_) {}
    const pairs = [];
    const keys = {};
    for (const [key, value] of Object.entries(config)) {
      if (value === undefined || value === null) continue;
      const name = key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
      keys[name] = key;
      pairs.push(name, Array.isArray(value) ? value.join(",") : String(value));
    }
    return loadCore().then(
      (c) => {
        try {
          c.init(pairs, here, emit);
        } catch (e) {
          const [code, option, message] = split(e);
          // A wrong option can be fixed and init called again.
          phase = code === "config" ? "idle" : "failed";
          if (code !== "config") queue = [];
          abandon();
          throw code === "config"
            ? new ConfigError(message, keys[option] || option)
            : new StateError(message || String(e));
        }
        started(c, true);
      },
      (e) => {
        phase = "failed";
        queue = [];
        abandon();
        throw new StateError("Steadycart could not load: " + ((e && e.message) || e));
      },
    );
  }

  /** The shopper started checkout (for apps whose checkout is not one watched call). */
  function markCheckoutStarted() {
    run(() => core.checkout_started());
  }

  /** The order went through: completes the checkout once; no exit survey after it. */
  function markCheckoutCompleted(orderId) {
    let id;
    if (orderId !== undefined && orderId !== null) {
      if (typeof orderId !== "string" && typeof orderId !== "number") {
        throw new ArgumentError("orderId must be a string", "orderId");
      }
      id = String(orderId);
      if (!id || id.length > 256) throw new ArgumentError("orderId must be 1-256 characters", "orderId");
    }
    run(() => core.checkout_completed(id));
  }

  const isInt = (n) => Number.isInteger(n);

  /**
   * The cart as the app sees it: items `{sku?, name?, quantity, unitPriceMinor?}`
   * (prices in minor units, e.g. cents) and an optional ISO 4217 currency.
   */
  function setCart(items, currency) {
    if (!Array.isArray(items)) throw new ArgumentError("setCart(items) needs an array", "items");
    if (items.length > 50) throw new ArgumentError("at most 50 items", "items");
    if (currency !== undefined && !/^[A-Z]{3}$/.test(currency)) {
      throw new ArgumentError("currency must be an ISO 4217 code like EUR", "currency");
    }
    const skus = [];
    const names = [];
    const quantities = [];
    const prices = [];
    items.forEach((item, i) => {
      const at = (f) => `items[${i}].${f}`;
      if (!item || typeof item !== "object") throw new ArgumentError("each item must be an object", `items[${i}]`);
      const { sku = "", name = "", quantity, unitPriceMinor } = item;
      if (typeof sku !== "string") throw new ArgumentError("sku must be a string", at("sku"));
      if (typeof name !== "string") throw new ArgumentError("name must be a string", at("name"));
      if (!isInt(quantity) || quantity < 1 || quantity > 9999) {
        throw new ArgumentError("quantity must be a whole number from 1 to 9999", at("quantity"));
      }
      if (unitPriceMinor !== undefined && !(isInt(unitPriceMinor) && unitPriceMinor >= 0)) {
        throw new ArgumentError("unitPriceMinor must be a whole number of minor units (cents)", at("unitPriceMinor"));
      }
      skus.push(sku);
      names.push(name);
      quantities.push(quantity);
      prices.push(unitPriceMinor === undefined ? NaN : unitPriceMinor);
    });
    run(() => {
      const refused = core.set_cart(skus, names, new Uint32Array(quantities), new Float64Array(prices), currency);
      if (refused) throw new ArgumentError(...split(refused).reverse());
    });
  }

  /**
   * A shopper's email, only with the consent they gave: `consent` is
   * `{text, version}`, the exact text shown to them and its version.
   */
  function identify(email, consent) {
    if (typeof email !== "string" || !email) throw new ArgumentError("email must be a string", "email");
    if (!consent || typeof consent.text !== "string" || !consent.text.trim() || typeof consent.version !== "string" || !consent.version) {
      throw new ConsentError("identify() needs the consent the shopper gave: {text, version}", "consent");
    }
    run(() => {
      const refused = core.identify(email, consent.text, consent.version);
      if (refused) {
        const [field, message] = split(refused);
        throw field.startsWith("consent") ? new ConsentError(message, field) : new ArgumentError(message, field);
      }
    });
  }

  /** Open the exit survey now. False when it is off, paused, a dialog is open, or the snippet is not running. */
  function showSurvey() {
    return phase === "running" && !!core.show_survey();
  }

  /** Stop watching new calls (messages go away) until `resume()`. */
  function pause() {
    run(() => core.pause());
  }

  /** Watch again after `pause()`. */
  function resume() {
    run(() => core.resume());
  }

  /** Remove the snippet from this page: fetch, XHR and history are the page's own again. */
  function uninstall() {
    if (phase === "running") core.remove();
    else if (watching) watching.uninstall();
    phase = "removed";
    queue = [];
  }

  /** `on('trouble' | 'recovered' | 'survey', cb)`; returns a function that unsubscribes. */
  function on(kind, cb) {
    if (!EVENTS.includes(kind)) throw new ArgumentError(`unknown event ${kind}: use ${EVENTS.join(", ")}`, "event");
    if (typeof cb !== "function") throw new ArgumentError("the callback must be a function", "callback");
    listeners[kind].push(cb);
    return () => off(kind, cb);
  }

  /** Remove a callback added with `on`. */
  function off(kind, cb) {
    const list = listeners[kind] || [];
    const i = list.indexOf(cb);
    if (i >= 0) list.splice(i, 1);
  }

  /** The snippet's version (`steadycart-js/x.y.z`, as reported to the collector), once loaded. */
  function version() {
    return core ? core.version() : undefined;
  }

  /**
   * Tag-manager style: `Steadycart.push(["markCheckoutCompleted", "A-1"])`
   * works before the snippet loaded (on a plain array) and after.
   */
  function push(...calls) {
    for (const [name, ...args] of calls) {
      if (typeof api[name] !== "function" || name === "push") throw new ArgumentError(`unknown method ${name}`, "method");
      api[name](...args);
    }
  }

  const api = {
    init, markCheckoutStarted, markCheckoutCompleted, setCart, identify, showSurvey,
    pause, resume, uninstall, on, off, version, ready, push,
    SteadycartError, ConfigError, ConsentError, ArgumentError, StateError,
  };

  Object.defineProperty(g, API, { value: api, configurable: true });

  // `window.Steadycart`; calls a tag manager queued before we loaded
  // (`window.Steadycart = [["markCheckoutCompleted", "A-1"]]`) run now.
  try {
    const early = g.Steadycart;
    if (!early || Array.isArray(early)) {
      g.Steadycart = api;
      for (const call of early || []) {
        try {
          push(call);
        } catch (e) {
          warn(e && e.message ? e.message : e);
        }
      }
    }
  } catch (_) {}

  if (tag) {
    phase = "starting";
    // Wrappers first, so the page's first calls are watched too.
    try {
      watching = watch();
    } catch (_) {}
    loadCore().then(
      (c) => started(c, c.start(tag, here, emit)),
      (e) => {
        phase = "failed";
        abandon();
        warn("not started:", (e && e.message) || e);
      },
    );
  }
})();
