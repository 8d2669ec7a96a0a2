// axios with its XMLHttpRequest adapter.
const ax = axios.create({ adapter: "xhr" });
const res = (r) => ({ status: r.status, data: r.data, ct: r.headers["content-type"] });
const fails = async (p) => {
  try {
    return res(await p);
  } catch (e) {
    return { ...lab.err(e), code: e.code, status: e.response && e.response.status, data: e.response && e.response.data, cancel: axios.isCancel(e) };
  }
};
lab.run({
  ok: () => fails(ax.get("/api/price/ok-1")),
  http503: () => fails(ax.get("/api/price/fail")),
  reset: () => fails(ax.get("/api/price/reset")),
  slow: () => fails(ax.get("/api/price/slow")),
  abort: () => {
    const c = new AbortController();
    setTimeout(() => c.abort(), 50);
    return fails(ax.get("/api/price/hang", { signal: c.signal }));
  },
  timeout: () => fails(ax.get("/api/price/hang", { timeout: 100 })),
  appError: () => fails(ax.get("/api/price/apperr")),
  cartPost: async () => {
    const up = [];
    const down = [];
    const r = await fails(ax.post("/api/cart", { sku: "vx-9", pad: "z".repeat(100000) }, {
      onUploadProgress: (e) => up.push(e.loaded === e.total),
      onDownloadProgress: (e) => down.push(e.loaded),
    }));
    return { r, uploadFinished: up[up.length - 1], downloaded: down[down.length - 1] };
  },
});
