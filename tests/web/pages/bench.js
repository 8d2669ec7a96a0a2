// Wrapper overhead, measured so that a noisy machine hits both sides alike:
// in this one page, batches of `batch` sequential calls alternate between the
// original fetch/XHR (saved before the snippet installed, see bench.html)
// and the wrapped ones, in the order AB BA AB BA… (so drift within a pair
// cancels out); each pair gives a ratio with/without. Four kinds: fetch and
// XHR, to a URL the snippet watches (price role) and one it ignores.
// `cargo xtask bench snippet` takes the median of the per-pair ratios.
const q = new URLSearchParams(location.search);
const n = Number(q.get("n")) || 2000;
const batch = Number(q.get("batch")) || 200;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const installed = () => "value" in (Object.getOwnPropertyDescriptor(window, "__steadycart") || {});
const O = window.__orig;
const fetchWith = (url) => fetch(url);
const fetchWithout = (url) => O.fetch.call(window, url);
const xhrWith = (url) =>
  new Promise((resolve) => {
    const x = new XMLHttpRequest();
    x.open("GET", url);
    x.onloadend = resolve;
    x.send();
  });
const xhrWithout = (url) =>
  new Promise((resolve) => {
    const x = new XMLHttpRequest();
    O.open.call(x, "GET", url);
    x.onloadend = resolve;
    O.send.call(x);
  });
// Yield to the event loop (a task, without setTimeout's clamping), so the
// snippet's deferred work runs inside the timed batches too.
const channel = new MessageChannel();
const yieldTask = () =>
  new Promise((r) => {
    channel.port1.onmessage = r;
    channel.port2.postMessage(0);
  });
const run = async (call, url, count) => {
  const t = performance.now();
  for (let i = 0; i < count; i++) {
    const r = await call(url);
    if (r instanceof Response) await r.text();
    if (url.includes("mock")) await yieldTask();
  }
  return (performance.now() - t) / count;
};
// An XHR answered from memory (a blob: URL, which no rule watches): the
// difference is the XHR wrappers' own work on an ignored call.
const BLOB = URL.createObjectURL(new Blob(["{}"], { type: "application/json" }));
const KINDS = {
  fetchIgnored: [fetchWithout, fetchWith, "/api/bench"],
  fetchWatched: [fetchWithout, fetchWith, "/api/price/bench"],
  xhrIgnored: [xhrWithout, xhrWith, "/api/bench"],
  xhrWatched: [xhrWithout, xhrWith, "/api/price/bench"],
  // No network (see bench.html): the difference is the wrappers' own work.
  mockIgnored: [fetchWithout, fetchWith, "/api/bench/mock"],
  mockWatched: [fetchWithout, fetchWith, "/api/price/mock"],
  xhrMockIgnored: [xhrWithout, xhrWith, BLOB],
};
// `kinds=a,b`: only these kinds, network and synchronous alike (for profiling
// one kind; `BENCH_KINDS` of `cargo xtask bench snippet`).
const only = q.get("kinds") ? q.get("kinds").split(",") : null;
if (only) for (const k of Object.keys(KINDS)) if (!only.includes(k)) delete KINDS[k];
// `side=with|without`: both halves of every pair take that side (for a CPU
// profile of one side's main-thread work; `BENCH_SIDE`).
const side = q.get("side");
if (side) for (const v of Object.values(KINDS)) v[0] = v[1] = side === "with" ? v[1] : v[0];
(async () => {
  for (let i = 0; i < 400 && !installed(); i++) await sleep(10);
  const loader = performance.getEntriesByType("resource").find((e) => e.name.endsWith("/steadycart.js"));
  const result = {
    installed: installed(),
    installAt: window.__installAt ?? null,
    loaderStart: loader ? loader.startTime : null,
    loaderEnd: loader ? loader.responseEnd : null,
    batch,
  };
  for (const [kind, [without, withS, url]] of Object.entries(KINDS)) {
    await run(without, url, 100); // warm-up
    await run(withS, url, 100);
    const pairs = [];
    for (let p = 0; p < Math.max(1, Math.round(n / batch)); p++) {
      let a, b;
      if (p % 2 === 0) {
        a = await run(without, url, batch);
        b = await run(withS, url, batch);
      } else {
        b = await run(withS, url, batch);
        a = await run(without, url, batch);
      }
      pairs.push([a, b]);
    }
    result[kind] = pairs;
  }
  // The wrappers' synchronous work alone, in µs per call: tight loops of
  // 1,000 calls through the originals and the wrappers, alternating (20
  // pairs). No network, no awaiting: only what the page's own call costs.
  const xhr = new XMLHttpRequest();
  const noop = () => {};
  const TRACKER = "https://stats.example.net/g/collect?v=2&tid=G-12345&cid=555.666&en=page_view";
  const SYNC = {
    syncXhrOpenIgnored: [() => O.open.call(xhr, "GET", "/api/bench"), () => xhr.open("GET", "/api/bench")],
    syncXhrOpenWatched: [() => O.open.call(xhr, "GET", "/api/price/bench"), () => xhr.open("GET", "/api/price/bench")],
    syncFetchIgnored: [() => O.fetch.call(window, "/api/bench/mock"), () => fetch("/api/bench/mock")],
    // An analytics-style call to another origin (the URL parser's work).
    syncXhrOpenOtherOrigin: [() => O.open.call(xhr, "GET", TRACKER), () => xhr.open("GET", TRACKER)],
    // A whole watched XHR, synchronously: a new one opened, sent and
    // aborted at once (its abort and loadend events fire inside abort()),
    // with a loadend handler of the page's, as libraries have.
    syncXhrWatched: [
      () => {
        const x = new XMLHttpRequest();
        x.onloadend = noop;
        O.open.call(x, "GET", "/api/price/bench");
        O.send.call(x);
        O.abort.call(x);
      },
      () => {
        const x = new XMLHttpRequest();
        x.onloadend = noop;
        x.open("GET", "/api/price/bench");
        x.send();
        x.abort();
      },
    ],
  };
  if (only) for (const k of Object.keys(SYNC)) if (!only.includes(k)) delete SYNC[k];
  const loop = (f, count) => {
    const t = performance.now();
    for (let i = 0; i < count; i++) f();
    return ((performance.now() - t) * 1000) / count;
  };
  for (const [kind, [without, withS]] of Object.entries(SYNC)) {
    loop(without, 1000);
    loop(withS, 1000);
    const pairs = [];
    for (let p = 0; p < 20; p++) {
      if (p % 2 === 0) {
        const a = loop(without, 1000);
        pairs.push([a, loop(withS, 1000)]);
      } else {
        const b = loop(withS, 1000);
        pairs.push([loop(without, 1000), b]);
      }
      await yieldTask();
    }
    result[kind] = pairs;
  }
  window.__result = result;
})();
