// A page that throws, includes the tag twice, hands fetch odd inputs,
// replaces fetch after the snippet, then uninstalls the snippet.
const status = async (p) => (await p).status;
lab.run({
  ok: () => status(fetch("/api/price/ok-1")),
  // Our code reads `method` and throws inside the snippet: swallowed there.
  hostileInput: () => status(fetch({ toString: () => "/api/price/ok-9", get method() { throw new Error("page getter"); } })),
  afterUs: async () => {
    const ours = window.fetch;
    let saw = 0;
    window.__pageWrapper = window.fetch = function (input, init) {
      saw++;
      return ours(input, init);
    };
    return { status: await status(fetch("/api/price/ok-10")), saw };
  },
  uninstall: () => {
    if (window.__steadycart) window.__steadycart.uninstall();
    return {
      open: XMLHttpRequest.prototype.open === __orig.open,
      send: XMLHttpRequest.prototype.send === __orig.send,
      abort: XMLHttpRequest.prototype.abort === __orig.abort,
      fetchKeptPageWrapper: window.fetch === window.__pageWrapper,
    };
  },
  afterUninstall: async () => [await status(fetch("/api/price/ok-11")), (await lab.xhr("GET", "/api/price/ok-12")).status],
});
