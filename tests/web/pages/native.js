// Native fetch and XMLHttpRequest: the scenario every library page mirrors.
const resp = async (p) => {
  const same = p === __spy.last;
  const r = await p;
  return { same, real: __spy.responses.has(r), isResponse: r instanceof Response, status: r.status, ok: r.ok,
    bodyUsed: r.bodyUsed, ct: r.headers.get("content-type"), body: await r.text() };
};
const fails = async (p) => {
  try {
    await p;
    return "resolved";
  } catch (e) {
    return lab.err(e);
  }
};
lab.run({
  ok: () => resp(fetch("/api/price/ok-1")),
  okUrlObject: () => resp(fetch(new URL("/api/price/ok-2?email=a@b.c#x", location.href))),
  okRequest: () => resp(fetch(new Request("/api/price/ok-3", { headers: { "x-page": "1" } }))),
  http503: () => resp(fetch("/api/price/fail")),
  reset: () => fails(fetch("/api/price/reset")),
  slow: () => resp(fetch("/api/price/slow")),
  abortPlain: async () => {
    const c = new AbortController();
    const p = fetch("/api/price/hang", { signal: c.signal });
    setTimeout(() => c.abort(), 50);
    return fails(p);
  },
  abortReason: async () => {
    const c = new AbortController();
    const reason = new Error("page gave up");
    const p = fetch("/api/price/hang", { signal: c.signal });
    setTimeout(() => c.abort(reason), 50);
    try {
      await p;
      return "resolved";
    } catch (e) {
      return { sameReason: e === reason };
    }
  },
  appError: () => resp(fetch("/api/price/apperr")),
  cartPost: () => resp(fetch("/api/cart", { method: "POST", body: JSON.stringify({ sku: "vx-9", qty: 1 }), headers: { "content-type": "application/json" } })),
  cartRequestBody: () => resp(fetch(new Request("/api/cart", { method: "PUT", body: "x".repeat(5000) }))),
  unwatched: () => resp(fetch("/api/other")),
  fetchLength: () => fetch.length,
  xhrOk: () => lab.xhr("GET", "/api/price/ok-4"),
  xhrJson: () => lab.xhr("GET", "/api/price/ok-5", { type: "json" }),
  xhrArrayBuffer: () => lab.xhr("GET", "/api/price/ok-6", { type: "arraybuffer" }),
  xhrBlob: () => lab.xhr("GET", "/api/price/ok-7", { type: "blob" }),
  xhr503: () => lab.xhr("GET", "/api/price/fail"),
  xhrReset: () => lab.xhr("GET", "/api/price/reset"),
  xhrSlow: () => lab.xhr("GET", "/api/price/slow"),
  xhrAbort: () => lab.xhr("GET", "/api/price/hang", { abortAfter: 50 }),
  xhrTimeout: () => lab.xhr("GET", "/api/price/hang", { timeout: 100 }),
  xhrAppError: () => lab.xhr("GET", "/api/price/apperr", { type: "json" }),
  xhrUpload: () => lab.xhr("POST", "/api/cart", { body: "y".repeat(200000) }),
  xhrSync: () => lab.xhr("GET", "/api/price/ok-8", { sync: true }),
  // The page aborts a finished XHR from its own readystatechange handler
  // (no load or loadend follows), and re-opens another from its onload:
  // both calls were answered, so both are ok, never a stall or an abort.
  xhrAbortWhenDone: () =>
    new Promise((resolve) => {
      const x = new XMLHttpRequest();
      x.onreadystatechange = () => {
        if (x.readyState !== 4) return;
        const status = x.status;
        x.abort();
        resolve({ status, readyState: x.readyState });
      };
      x.open("GET", "/api/price/ok-13");
      x.send();
    }),
  xhrReopenWhenDone: () =>
    new Promise((resolve) => {
      const x = new XMLHttpRequest();
      x.onload = () => {
        const status = x.status;
        x.open("GET", "/api/other");
        resolve({ status, readyState: x.readyState });
      };
      x.open("GET", "/api/price/ok-14");
      x.send();
    }),
});
