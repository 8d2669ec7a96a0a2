// The demo store as a single-page app (React-style client routing with the
// History API), for the Steadycart JS API guide and tests. It knows
// Steadycart only through the few lines in the page's head.
const json = { "content-type": "application/json" };
const money = (cents) => "$" + (cents / 100).toFixed(2);
const PRODUCTS = [
  { sku: "kbd-75", name: "75% Mechanical Keyboard", price: 8900 },
  { sku: "hdp-200", name: "Studio Headphones", price: 12900 },
];
let cart = [];
const view = document.getElementById("view");
const status = document.getElementById("status");

function el(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  if (text) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function go(path) {
  history.pushState({}, "", path);
  render();
}

function render() {
  const path = location.pathname;
  view.textContent = "";
  if (path.startsWith("/spa/order/")) {
    view.append(el("h1", "Thank you!"), el("p", "Order " + decodeURIComponent(path.slice(11)) + " is confirmed."));
  } else if (path === "/spa/cart") {
    view.append(el("h1", "Cart"));
    const list = el("ul", "", { id: "cart-lines" });
    for (const l of cart) list.append(el("li", l.qty + " × " + l.name));
    view.append(list, el("button", "Checkout", { id: "checkout", type: "button" }));
  } else {
    view.append(el("h1", "Products"));
    for (const p of PRODUCTS) {
      view.append(el("p", p.name + " " + money(p.price)), el("button", "Add to cart", { "data-add": p.sku, type: "button" }));
    }
  }
}

async function add(sku) {
  const p = PRODUCTS.find((x) => x.sku === sku);
  const line = cart.find((l) => l.sku === sku);
  if (line) line.qty += 1;
  else cart.push({ sku, name: p.name, qty: 1, price: p.price });
  window.Steadycart?.setCart(cart.map((l) => ({ sku: l.sku, name: l.name, quantity: l.qty, unitPriceMinor: l.price })), "USD");
  const r = await fetch("/api/cart", { method: "POST", headers: json, body: JSON.stringify({ items: cart }) });
  status.textContent = r.ok ? "Added to cart." : "Cart update failed (" + r.status + ")";
}

async function checkout() {
  status.textContent = "Placing your order…";
  try {
    const r = await fetch("/api/checkout", { method: "POST", headers: json, body: JSON.stringify({ items: cart }) });
    if (!r.ok) throw new Error("Checkout failed (" + r.status + ")");
    const order = await r.json();
    const p = await fetch("/api/payment", { method: "POST", headers: json, body: JSON.stringify({ order_id: order.order_id }) });
    if (!p.ok) throw new Error("Payment failed (" + p.status + ")");
    cart = [];
    status.textContent = "";
    go("/spa/order/" + encodeURIComponent(order.order_id));
  } catch (e) {
    status.textContent = e.message + " — please try again.";
  }
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-route]");
  if (a) {
    e.preventDefault();
    go(a.getAttribute("href"));
  }
  const b = e.target.closest("[data-add]");
  if (b) add(b.dataset.add);
  if (e.target.closest("#checkout")) checkout();
});
window.addEventListener("popstate", render);
render();
