// Steadycart loader: the one file a shop's script tag points at.
//   <script type="module" src="https://COLLECTOR/snippet/steadycart.js"
//           data-site="SITE_KEY" data-collector="https://COLLECTOR" ...></script>
// It loads the wasm core next to it and hands it the tag. Any failure leaves
// the page exactly as it was without us: one console warning, nothing thrown.
const here = import.meta.url;
const tag =
  [...document.querySelectorAll("script[src]")].find((s) => s.src === here) ||
  document.querySelector("script[data-site]");
(async () => {
  try {
    const core = await import("./steadycart_core.js");
    await core.default({ module_or_path: new URL("steadycart_core_bg.wasm", here) });
    core.start(tag || null, here);
  } catch (e) {
    try {
      console.warn("[steadycart] not started:", (e && e.message) || e);
    } catch (_) {}
  }
})();
