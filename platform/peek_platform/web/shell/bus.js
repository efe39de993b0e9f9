// The page's one bus connection, shared by the shell and the plugin app it shows.
//
// The shell turns the client's connection states into three the user sees: "online"
// (welcomed by the client service), "connecting" (opening) and "offline" (lost and waiting
// to retry, refused, or the browser has no network).

import { VortexClient } from "/peek/vortex.js";

/** @type {VortexClient | null} */
let client = null;

/**
 * What the indicator shows for a connection state.
 * @param {string} state the VortexClient's state
 * @returns {"online" | "connecting" | "offline"}
 */
export function shownState(state) {
  if (state === "open") return "online";
  if (state === "connecting" && navigator.onLine) return "connecting";
  return "offline";
}

/**
 * The page's connection to its client service (created on first call), reporting every
 * state change to ``onState``.
 * @param {(state: "online" | "connecting" | "offline") => void} onState
 * @returns {Promise<VortexClient>}
 */
export async function connectDeviceBus(onState) {
  if (client === null) {
    const site = document.body.dataset.site === "desktop" ? "peek-desktop" : "peek-mobile";
    client = new VortexClient({ name: site, reconnectInitialSeconds: 0.5,
                                reconnectMaxSeconds: 5 });
  }
  const current = client;
  const report = () => onState(shownState(current.state));
  current.addEventListener("statechange", report);
  globalThis.addEventListener("online", report);
  globalThis.addEventListener("offline", report);
  current.connect();
  report();
  return current;
}
