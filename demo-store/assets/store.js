// The demo store's own page code: plain fetch, like a real storefront. It
// knows nothing about Steadycart.
const CART_KEY = "demo-cart";
const money = (cents) => "$" + (cents / 100).toFixed(2);
const loadCart = () => {
  try {
    return JSON.parse(localStorage.getItem(CART_KEY) || "[]");
  } catch (_) {
    return [];
  }
};
const saveCart = (cart) => localStorage.setItem(CART_KEY, JSON.stringify(cart));
const json = { "content-type": "application/json" };

function renderBadge() {
  const badge = document.getElementById("cart-count");
  if (badge) badge.textContent = String(loadCart().reduce((n, l) => n + l.qty, 0));
}

async function addToCart(sku) {
  const cart = loadCart();
  const line = cart.find((l) => l.sku === sku);
  if (line) line.qty += 1;
  else cart.push({ sku, qty: 1 });
  saveCart(cart);
  renderBadge();
  const note = document.getElementById("status");
  try {
    const r = await fetch("/api/cart", { method: "POST", headers: json, body: JSON.stringify({ items: cart }) });
    if (!r.ok) throw new Error("Cart update failed (" + r.status + ")");
    if (note) note.textContent = "Added to cart.";
  } catch (e) {
    if (note) note.textContent = e.message;
  }
}

async function renderCart() {
  const list = document.getElementById("cart-lines");
  if (!list) return;
  const cart = loadCart();
  list.textContent = "";
  if (!cart.length) {
    list.textContent = "Your cart is empty.";
    return;
  }
  try {
    const r = await fetch("/api/cart", { method: "POST", headers: json, body: JSON.stringify({ items: cart }) });
    const priced = await r.json();
    for (const l of priced.items) {
      const li = document.createElement("li");
      li.textContent = l.qty + " × " + l.name + " — " + money(l.price_cents * l.qty);
      list.appendChild(li);
    }
    document.getElementById("cart-total").textContent = money(priced.total_cents);
  } catch (_) {
    for (const l of cart) {
      const li = document.createElement("li");
      li.textContent = l.qty + " × " + l.sku;
      list.appendChild(li);
    }
  }
}

async function checkout() {
  const note = document.getElementById("status");
  const button = document.getElementById("checkout");
  button.disabled = true;
  note.textContent = "Placing your order…";
  try {
    const r = await fetch("/api/checkout", { method: "POST", headers: json, body: JSON.stringify({ items: loadCart() }) });
    if (!r.ok) throw new Error("Checkout failed (" + r.status + ")");
    const order = await r.json();
    const p = await fetch("/api/payment", { method: "POST", headers: json, body: JSON.stringify({ order_id: order.order_id }) });
    if (!p.ok) throw new Error("Payment failed (" + p.status + ")");
    saveCart([]);
    location.href = "/order/" + encodeURIComponent(order.order_id);
  } catch (e) {
    note.textContent = e.message + " — please try again.";
    button.disabled = false;
  }
}

function livePrices() {
  for (const el of document.querySelectorAll("[data-live-price]")) {
    fetch("/api/price/" + encodeURIComponent(el.dataset.livePrice))
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(String(r.status)))))
      .then((p) => {
        el.textContent = money(p.price_cents);
      })
      .catch(() => {
        el.textContent = "price unavailable";
      });
  }
}

document.addEventListener("click", (e) => {
  const add = e.target.closest("[data-add]");
  if (add) addToCart(add.dataset.add);
  if (e.target.closest("#checkout")) checkout();
  if (e.target.closest("#refresh-prices")) livePrices();
});
renderBadge();
renderCart();
livePrices();
