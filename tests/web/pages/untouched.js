// After the snippet gave up: nothing of ours on the page, one warning.
for (let i = 0; i < 200 && __warns.length === 0; i++) await lab.sleep(25);
await lab.sleep(300);
const r = await fetch("/api/price/ok-1");
window.__result = {
  installed: !!window.__steadycart,
  fetch: window.fetch === __orig.fetch,
  open: XMLHttpRequest.prototype.open === __orig.open,
  send: XMLHttpRequest.prototype.send === __orig.send,
  abort: XMLHttpRequest.prototype.abort === __orig.abort,
  status: r.status,
  warns: __warns,
  errors: __errors,
};
