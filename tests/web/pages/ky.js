// ky: a fetch-based library (retries off so every call is made once).
import ky from "/lib/ky/distribution/index.js";
const api = ky.create({ retry: 0, timeout: 10000 });
const fails = async (f) => {
  try {
    return { value: await f() };
  } catch (e) {
    return { ...lab.err(e), status: e.response ? e.response.status : null };
  }
};
lab.run({
  ok: () => fails(() => api.get("/api/price/ok-1").json()),
  http503: () => fails(() => api.get("/api/price/fail").json()),
  reset: () => fails(() => api.get("/api/price/reset").json()),
  slow: () => fails(() => api.get("/api/price/slow").json()),
  abort: () => {
    const c = new AbortController();
    setTimeout(() => c.abort(), 50);
    return fails(() => api.get("/api/price/hang", { signal: c.signal }).json());
  },
  timeout: () => fails(() => api.get("/api/price/hang", { timeout: 100 }).json()),
  appError: () => fails(() => api.get("/api/price/apperr").json()),
  cartPost: () => fails(() => api.post("/api/cart", { json: { sku: "vx-9" } }).json()),
  response: () => fails(async () => {
    const r = await api.get("/api/price/ok-2");
    return { real: __spy.responses.has(r), isResponse: r instanceof Response, bodyUsed: r.bodyUsed };
  }),
});
