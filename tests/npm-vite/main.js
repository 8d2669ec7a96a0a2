// A tiny app that uses Steadycart from npm, the way a Vite storefront would.
import { init, on, markCheckoutCompleted } from "steadycart";

window.__hooks = [];
window.__errors = [];
addEventListener("error", (e) => __errors.push(String(e.message)));
addEventListener("unhandledrejection", (e) => __errors.push("rejection: " + e.reason));

on("trouble", (t) => __hooks.push(t));
init({
  site: "pk_lab_0001",
  collector: location.origin,
  checkout: "POST /api/checkout",
  confirmation: "/thanks/",
}).then(
  () => (window.__ready = true),
  (e) => (window.__initError = `${e.name}: ${e.message}`),
);

document.getElementById("checkout").addEventListener("click", async () => {
  const r = await fetch("/api/checkout", { method: "POST", body: "{}" });
  document.getElementById("status").textContent = "checkout answered " + r.status;
});
// The test calls this the way an app does once its order is confirmed.
window.orderConfirmed = (id) => markCheckoutCompleted(id);
