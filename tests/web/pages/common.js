// Shared by every lab page (a classic script, loaded before anything else).
// Records what the page sees: errors, warnings, and — through a fetch
// wrapper installed before the snippet, as some shops do — the promise and
// Response the browser really produced, so scenarios can check that the
// page gets those very objects back.
window.__errors = [];
window.__warns = [];
addEventListener("error", (e) => __errors.push("error: " + e.message));
addEventListener("unhandledrejection", (e) => __errors.push("unhandled: " + (e.reason && e.reason.name)));
const pageWarn = console.warn;
console.warn = function () {
  __warns.push([...arguments].map(String).join(" "));
  return pageWarn.apply(this, arguments);
};
const nativeFetch = window.fetch;
window.__spy = { last: null, responses: new WeakSet() };
window.fetch = function fetch(input) {
  const p = nativeFetch.apply(this, arguments);
  __spy.last = p;
  p.then((r) => __spy.responses.add(r), () => {});
  return p;
};

window.lab = {
  snippet: /[?&]snippet=1/.test(location.search),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  // Resolve once the snippet's wrappers are in (or at once without it).
  async ready() {
    if (!lab.snippet) return;
    for (let i = 0; i < 200 && !window.__steadycart; i++) await lab.sleep(25);
    if (!window.__steadycart) throw new Error("snippet never installed");
  },
  err: (e) => (e ? { name: e.name, message: String(e.message), ctor: e.constructor && e.constructor.name } : e),
  // Run named steps in order; the trace (never timings) lands in
  // window.__result for the test to compare with and without the snippet.
  async run(steps) {
    const trace = {};
    try {
      await lab.ready();
      for (const [name, step] of Object.entries(steps)) {
        try {
          trace[name] = await step();
        } catch (e) {
          trace[name] = { threw: lab.err(e) };
        }
      }
    } catch (e) {
      trace.fatal = lab.err(e);
    }
    await lab.sleep(50);
    trace.errors = __errors;
    window.__result = trace;
  },
  // One XHR, recording everything a page can observe.
  xhr(method, url, opts = {}) {
    return new Promise((resolve) => {
      const x = new XMLHttpRequest();
      const seen = [];
      const push = (t) => seen[seen.length - 1] !== t && seen.push(t);
      x.onreadystatechange = () => push("rs" + x.readyState);
      for (const t of ["loadstart", "progress", "load", "error", "abort", "timeout", "loadend"]) {
        x.addEventListener(t, (e) => push(t + (t === "loadend" ? ":" + e.loaded : "")));
      }
      const up = [];
      if (opts.body) for (const t of ["loadstart", "progress", "load", "loadend"]) x.upload.addEventListener(t, () => up[up.length - 1] !== t && up.push(t));
      x.open(method, url, !opts.sync);
      if (opts.type) x.responseType = opts.type;
      if (opts.timeout) x.timeout = opts.timeout;
      const finish = () => {
        let response = x.response;
        if (response instanceof ArrayBuffer) response = "ab:" + response.byteLength;
        else if (response instanceof Blob) response = "blob:" + response.size + ":" + response.type;
        resolve({ seen, up, status: x.status, statusText: x.statusText, readyState: x.readyState, response,
          text: x.responseType === "" || x.responseType === "text" ? x.responseText : null,
          ct: x.getResponseHeader("content-type") });
      };
      x.addEventListener("loadend", finish);
      try {
        x.send(opts.body || null);
      } catch (e) {
        resolve({ seen, threw: lab.err(e) });
      }
      if (opts.abortAfter) setTimeout(() => x.abort(), opts.abortAfter);
    });
  },
};
