// jQuery.ajax (XMLHttpRequest underneath), with its callbacks and jqXHR.
const ajax = (opts, abortAfter) =>
  new Promise((resolve) => {
    const calls = [];
    const jq = $.ajax({
      ...opts,
      beforeSend: () => calls.push("beforeSend"),
      success: (data, text) => calls.push("success:" + text),
      error: (_x, text, thrown) => calls.push("error:" + text + ":" + thrown),
      complete: (x, text) => {
        calls.push("complete:" + text);
        resolve({ calls, status: x.status, readyState: x.readyState, responseJSON: x.responseJSON || null, responseText: x.responseText || null });
      },
    });
    if (abortAfter) setTimeout(() => jq.abort(), abortAfter);
  });
lab.run({
  ok: () => ajax({ url: "/api/price/ok-1", dataType: "json" }),
  getJSON: () => new Promise((r) => $.getJSON("/api/price/ok-2", (d) => r(d))),
  http503: () => ajax({ url: "/api/price/fail", dataType: "json" }),
  reset: () => ajax({ url: "/api/price/reset" }),
  slow: () => ajax({ url: "/api/price/slow", dataType: "json" }),
  abort: () => ajax({ url: "/api/price/hang" }, 50),
  timeout: () => ajax({ url: "/api/price/hang", timeout: 100 }),
  appError: () => ajax({ url: "/api/price/apperr", dataType: "json" }),
  cartPost: () => ajax({ url: "/api/cart", method: "POST", contentType: "application/json", data: JSON.stringify({ sku: "vx-9" }) }),
  sync: () => ajax({ url: "/api/price/ok-3", async: false }),
});
