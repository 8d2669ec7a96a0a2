// Types of the Steadycart JS API (`window.Steadycart` and this module's
// exports). The configuration type is generated: see config.d.ts.
import type { SteadycartConfig } from "./config.js";
export type { SteadycartConfig } from "./config.js";

/** Endpoint roles. */
export type Role = "cart" | "checkout" | "payment" | "price";

/** `on('trouble', cb)`: a watched call failed or stalled. */
export interface TroubleEvent {
  role: Role;
  /** `http_error`, `network_error`, `stall`, `app_error`, … */
  outcome: string;
  method: string;
  /** URL without query string. */
  url: string;
  /** HTTP status, or null when no response arrived. */
  status: number | null;
}

/** `on('recovered', cb)`: the fallback message for `role` went away because calls work again. */
export interface RecoveredEvent {
  role: Role;
}

/** `on('survey', cb)`: the exit survey was shown, answered or dismissed. */
export interface SurveyEvent {
  action: "shown" | "answered" | "dismissed";
  /** What showed it (`pointer_top`, `api`, …) or how it was dismissed (`escape`, `close`, …). */
  reason: string;
}

export interface SteadycartEvents {
  trouble: TroubleEvent;
  recovered: RecoveredEvent;
  survey: SurveyEvent;
}

/** One cart line for `setCart`. Prices in minor units (cents). */
export interface CartItem {
  sku?: string;
  name?: string;
  /** 1 to 9999. */
  quantity: number;
  /** Unit price in minor units, e.g. 1299 for 12.99. */
  unitPriceMinor?: number;
}

/** The consent a shopper gave, exactly as shown to them. */
export interface Consent {
  text: string;
  version: string;
}

/** Every error the API throws. */
export class SteadycartError extends Error {
  readonly code: "config" | "consent" | "argument" | "state";
  /** The option or argument to blame, when there is one. */
  readonly option?: string;
}
/** A configuration option is wrong; `option` is the key you passed. */
export class ConfigError extends SteadycartError {
  readonly code: "config";
}
/** `identify` without complete consent. */
export class ConsentError extends SteadycartError {
  readonly code: "consent";
}
/** A bad argument (cart item, order id, event name, callback). */
export class ArgumentError extends SteadycartError {
  readonly code: "argument";
}
/** Not possible in the snippet's state (already started, uninstalled). */
export class StateError extends SteadycartError {
  readonly code: "state";
}

/** Start without the script tag. Rejects with a ConfigError naming the option. */
export function init(config: SteadycartConfig): Promise<void>;
/** The shopper started checkout. */
export function markCheckoutStarted(): void;
/** The order went through: completes the checkout once; no exit survey after it. */
export function markCheckoutCompleted(orderId?: string | number): void;
/** The cart as the app sees it (for carts that live client-side). */
export function setCart(items: CartItem[], currency?: string): void;
/** A shopper's email, only with the consent they gave. Throws ConsentError without it. */
export function identify(email: string, consent: Consent): void;
/** Open the exit survey now; false when off, paused, a dialog is open, or not running. */
export function showSurvey(): boolean;
/** Stop watching new calls until `resume()`. */
export function pause(): void;
/** Watch again after `pause()`. */
export function resume(): void;
/** Remove the snippet from this page (fetch, XHR and history are the page's own again). */
export function uninstall(): void;
/** Listen to snippet events; returns a function that unsubscribes. Callback errors never escape. */
export function on<K extends keyof SteadycartEvents>(event: K, cb: (detail: SteadycartEvents[K]) => void): () => void;
/** Remove a callback added with `on`. */
export function off<K extends keyof SteadycartEvents>(event: K, cb: (detail: SteadycartEvents[K]) => void): void;
/** `steadycart-js/x.y.z` as reported to the collector, once loaded. */
export function version(): string | undefined;
/** Tag-manager style calls: `push(["markCheckoutCompleted", "A-1"])` (also on a plain array before load). */
export function push(...calls: [string, ...unknown[]][]): void;
/** Resolves once the snippet runs on this page. */
export const ready: Promise<void>;

export interface SteadycartApi {
  init: typeof init;
  markCheckoutStarted: typeof markCheckoutStarted;
  markCheckoutCompleted: typeof markCheckoutCompleted;
  setCart: typeof setCart;
  identify: typeof identify;
  showSurvey: typeof showSurvey;
  pause: typeof pause;
  resume: typeof resume;
  uninstall: typeof uninstall;
  on: typeof on;
  off: typeof off;
  version: typeof version;
  ready: typeof ready;
  push: typeof push;
  SteadycartError: typeof SteadycartError;
  ConfigError: typeof ConfigError;
  ConsentError: typeof ConsentError;
  ArgumentError: typeof ArgumentError;
  StateError: typeof StateError;
}
declare const Steadycart: SteadycartApi;
export default Steadycart;

declare global {
  interface Window {
    Steadycart?: SteadycartApi | [string, ...unknown[]][];
  }
}
