// Steadycart loader and JS API: the one file a shop's script tag points at,
// and the npm package's entry.
//   <script type="module" src="https://COLLECTOR/snippet/steadycart.js"
//           data-site="SITE_KEY" data-collector="https://COLLECTOR" ...></script>
// With a tag it starts by itself; an app without the tag calls
// `init(config)`. Either way `window.Steadycart` (and this module's
// exports) is the API. Loading problems leave the page exactly as it was
// without us: one console warning, nothing thrown at the page.
const here = import.meta.url;
const EVENTS = ["trouble", "recovered", "survey"];

/** Every error the API throws: `code` says which kind, `option` which option or argument. */
export class SteadycartError extends Error {
  constructor(message, code, option) {
    super(message);
    this.name = "SteadycartError";
    this.code = code;
    if (option) this.option = option;
  }
}
/** A configuration option is wrong; `option` names it. */
export class ConfigError extends SteadycartError {
  constructor(message, option) {
    super(message, "config", option);
    this.name = "SteadycartConfigError";
  }
}
/** `identify` without complete consent (`{text, version}` as shown to the shopper). */
export class ConsentError extends SteadycartError {
  constructor(message, option) {
    super(message, "consent", option);
    this.name = "SteadycartConsentError";
  }
}
/** A bad argument (cart item, order id, event name, callback). */
export class ArgumentError extends SteadycartError {
  constructor(message, option) {
    super(message, "argument", option);
    this.name = "SteadycartArgumentError";
  }
}
/** The call does not fit the snippet's state (already running, uninstalled). */
export class StateError extends SteadycartError {
  constructor(message) {
    super(message, "state");
    this.name = "SteadycartStateError";
  }
}

const warn = (...args) => {
  try {
    console.warn("[steadycart]", ...args);
  } catch (_) {}
};

let core = null; // the wasm module, once running
let phase = "idle"; // idle | starting | running | failed | removed
let queue = []; // calls made before the snippet runs
const listeners = { trouble: [], recovered: [], survey: [] };
let ready_;
/** Resolves once the snippet runs on this page (never rejects). */
export const ready = new Promise((r) => (ready_ = r));

// Called by the wasm core. Callbacks run after our own code returned, each
// on its own: a throwing callback reaches neither the page nor the snippet.
function emit(kind, detail) {
  for (const cb of (listeners[kind] || []).slice()) {
    Promise.resolve(detail)
      .then(cb)
      .catch((e) => warn(`an on('${kind}') callback threw:`, e));
  }
}

async function loadCore() {
  const c = await import("./steadycart_core.js");
  // --target web glue needs its wasm fetched; bundler glue is ready as is.
  if (typeof c.default === "function") {
    await c.default({ module_or_path: new URL("./steadycart_core_bg.wasm", import.meta.url) });
  }
  return c;
}

function started(c, ok) {
  core = c;
  if (phase === "removed") {
    if (ok) c.remove();
    return;
  }
  phase = ok ? "running" : "failed";
  const q = queue;
  queue = [];
  if (!ok) return;
  for (const f of q) {
    try {
      f();
    } catch (e) {
      warn(e && e.message ? e.message : e);
    }
  }
  ready_();
}

// Run now when running, queue while starting; no-op when it failed.
function run(f) {
  if (phase === "removed") throw new StateError("Steadycart was uninstalled from this page");
  if (phase === "running") return f();
  if (phase !== "failed") queue.push(f);
}

const split = (e) => String(e).split("\t");

/**
 * Start without a script tag. `config` holds the tag's options without
 * `data-`, in kebab or camel case (`checkout` / `stallMsPrice`); arrays
 * are joined with commas. Rejects with a ConfigError naming the option
 * (fix it and call again) or a StateError.
 */
export function init(config) {
  if (!config || typeof config !== "object" || Array.isArray(config)) {
    return Promise.reject(new ArgumentError("init(config) needs a configuration object", "config"));
  }
  if (phase !== "idle") {
    return Promise.reject(new StateError("Steadycart is already started on this page"));
  }
  phase = "starting";
  const pairs = [];
  const keys = {};
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined || value === null) continue;
    const name = key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
    keys[name] = key;
    pairs.push(name, Array.isArray(value) ? value.join(",") : String(value));
  }
  return loadCore().then(
    (c) => {
      try {
        c.init(pairs, here, emit);
      } catch (e) {
        const [code, option, message] = split(e);
        // A wrong option can be fixed and init called again.
        phase = code === "config" ? "idle" : "failed";
        if (code !== "config") queue = [];
        throw code === "config"
          ? new ConfigError(message, keys[option] || option)
          : new StateError(message || String(e));
      }
      started(c, true);
    },
    (e) => {
      phase = "failed";
      queue = [];
      throw new StateError("Steadycart could not load: " + ((e && e.message) || e));
    },
  );
}

/** The shopper started checkout (for apps whose checkout is not one watched call). */
export function markCheckoutStarted() {
  run(() => core.checkout_started());
}

/** The order went through: completes the checkout once; no exit survey after it. */
export function markCheckoutCompleted(orderId) {
  let id;
  if (orderId !== undefined && orderId !== null) {
    if (typeof orderId !== "string" && typeof orderId !== "number") {
      throw new ArgumentError("orderId must be a string", "orderId");
    }
    id = String(orderId);
    if (!id || id.length > 256) throw new ArgumentError("orderId must be 1-256 characters", "orderId");
  }
  run(() => core.checkout_completed(id));
}

const isInt = (n) => Number.isInteger(n);

/**
 * The cart as the app sees it: items `{sku?, name?, quantity, unitPriceMinor?}`
 * (prices in minor units, e.g. cents) and an optional ISO 4217 currency.
 */
export function setCart(items, currency) {
  if (!Array.isArray(items)) throw new ArgumentError("setCart(items) needs an array", "items");
  if (items.length > 50) throw new ArgumentError("at most 50 items", "items");
  if (currency !== undefined && !/^[A-Z]{3}$/.test(currency)) {
    throw new ArgumentError("currency must be an ISO 4217 code like EUR", "currency");
  }
  const skus = [];
  const names = [];
  const quantities = [];
  const prices = [];
  items.forEach((item, i) => {
    const at = (f) => `items[${i}].${f}`;
    if (!item || typeof item !== "object") throw new ArgumentError("each item must be an object", `items[${i}]`);
    const { sku = "", name = "", quantity, unitPriceMinor } = item;
    if (typeof sku !== "string") throw new ArgumentError("sku must be a string", at("sku"));
    if (typeof name !== "string") throw new ArgumentError("name must be a string", at("name"));
    if (!isInt(quantity) || quantity < 1 || quantity > 9999) {
      throw new ArgumentError("quantity must be a whole number from 1 to 9999", at("quantity"));
    }
    if (unitPriceMinor !== undefined && !(isInt(unitPriceMinor) && unitPriceMinor >= 0)) {
      throw new ArgumentError("unitPriceMinor must be a whole number of minor units (cents)", at("unitPriceMinor"));
    }
    skus.push(sku);
    names.push(name);
    quantities.push(quantity);
    prices.push(unitPriceMinor === undefined ? NaN : unitPriceMinor);
  });
  run(() => {
    const refused = core.set_cart(skus, names, new Uint32Array(quantities), new Float64Array(prices), currency);
    if (refused) throw new ArgumentError(...split(refused).reverse());
  });
}

/**
 * A shopper's email, only with the consent they gave: `consent` is
 * `{text, version}`, the exact text shown to them and its version.
 */
export function identify(email, consent) {
  if (typeof email !== "string" || !email) throw new ArgumentError("email must be a string", "email");
  if (!consent || typeof consent.text !== "string" || !consent.text.trim() || typeof consent.version !== "string" || !consent.version) {
    throw new ConsentError("identify() needs the consent the shopper gave: {text, version}", "consent");
  }
  run(() => {
    const refused = core.identify(email, consent.text, consent.version);
    if (refused) {
      const [field, message] = split(refused);
      throw field.startsWith("consent") ? new ConsentError(message, field) : new ArgumentError(message, field);
    }
  });
}

/** Open the exit survey now. False when it is off, paused, a dialog is open, or the snippet is not running. */
export function showSurvey() {
  return phase === "running" && !!core.show_survey();
}

/** Stop watching new calls (messages go away) until `resume()`. */
export function pause() {
  run(() => core.pause());
}

/** Watch again after `pause()`. */
export function resume() {
  run(() => core.resume());
}

/** Remove the snippet from this page: fetch, XHR and history are the page's own again. */
export function uninstall() {
  if (phase === "running") core.remove();
  phase = "removed";
  queue = [];
}

/** `on('trouble' | 'recovered' | 'survey', cb)`; returns a function that unsubscribes. */
export function on(kind, cb) {
  if (!EVENTS.includes(kind)) throw new ArgumentError(`unknown event ${kind}: use ${EVENTS.join(", ")}`, "event");
  if (typeof cb !== "function") throw new ArgumentError("the callback must be a function", "callback");
  listeners[kind].push(cb);
  return () => off(kind, cb);
}

/** Remove a callback added with `on`. */
export function off(kind, cb) {
  const list = listeners[kind] || [];
  const i = list.indexOf(cb);
  if (i >= 0) list.splice(i, 1);
}

/** The snippet's version (`steadycart-js/x.y.z`, as reported to the collector), once loaded. */
export function version() {
  return core ? core.version() : undefined;
}

/**
 * Tag-manager style: `Steadycart.push(["markCheckoutCompleted", "A-1"])`
 * works before the snippet loaded (on a plain array) and after.
 */
export function push(...calls) {
  for (const [name, ...args] of calls) {
    if (typeof api[name] !== "function" || name === "push") throw new ArgumentError(`unknown method ${name}`, "method");
    api[name](...args);
  }
}

const api = {
  init, markCheckoutStarted, markCheckoutCompleted, setCart, identify, showSurvey,
  pause, resume, uninstall, on, off, version, ready, push,
  SteadycartError, ConfigError, ConsentError, ArgumentError, StateError,
};
export default api;

// `window.Steadycart`; calls a tag manager queued before we loaded
// (`window.Steadycart = [["markCheckoutCompleted", "A-1"]]`) run now.
try {
  const g = globalThis;
  const early = g.Steadycart;
  if (!early || Array.isArray(early)) {
    g.Steadycart = api;
    for (const call of early || []) {
      try {
        push(call);
      } catch (e) {
        warn(e && e.message ? e.message : e);
      }
    }
  }
} catch (_) {}

// Start by ourselves only when the page configures us (a tag with
// `data-site` or a `steadycart-config` object): bundled into an app, this
// module shares its script's URL with the app and waits for `init`.
const configured =
  typeof document !== "undefined" &&
  (document.getElementById("steadycart-config") || document.querySelector("script[data-site]"));
const tag =
  configured &&
  ([...document.querySelectorAll("script[src]")].find((s) => s.src === here) ||
    document.querySelector("script[data-site]"));
if (tag) {
  phase = "starting";
  loadCore().then(
    (c) => started(c, c.start(tag, here, emit)),
    (e) => {
      phase = "failed";
      warn("not started:", (e && e.message) || e);
    },
  );
}
