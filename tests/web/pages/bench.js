// N sequential fetches and N sequential XHRs, to a URL the snippet watches
// (price role) and one it ignores; ms per call. Run with and without the
// snippet by `cargo xtask bench snippet`.
const q = new URLSearchParams(location.search);
const n = Number(q.get("n")) || 2000;
const withSnippet = q.get("snippet") === "1";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const installed = () => "value" in (Object.getOwnPropertyDescriptor(window, "__steadycart") || {});
const fetches = async (url, count) => {
  const t = performance.now();
  for (let i = 0; i < count; i++) await (await fetch(url)).text();
  return (performance.now() - t) / count;
};
const xhr = (url) =>
  new Promise((resolve) => {
    const x = new XMLHttpRequest();
    x.open("GET", url);
    x.onloadend = resolve;
    x.send();
  });
const xhrs = async (url, count) => {
  const t = performance.now();
  for (let i = 0; i < count; i++) await xhr(url);
  return (performance.now() - t) / count;
};
(async () => {
  if (withSnippet) for (let i = 0; i < 400 && !installed(); i++) await sleep(10);
  const loader = performance.getEntriesByType("resource").find((e) => e.name.endsWith("/steadycart.js"));
  await fetches("/api/bench", 100); // warm-up
  await xhrs("/api/bench", 100);
  window.__result = {
    installed: installed(),
    installAt: window.__installAt ?? null,
    loaderStart: loader ? loader.startTime : null,
    fetchIgnored: await fetches("/api/bench", n),
    fetchWatched: await fetches("/api/price/bench", n),
    xhrIgnored: await xhrs("/api/bench", n),
    xhrWatched: await xhrs("/api/price/bench", n),
  };
})();
