// The device app shell: lists the plugin apps, shows one, and reports the connection.
//
// The page is the same for "/" (home) and "/<pluginName>/" (that plugin's app); this script
// reads the path, fetches /peek/plugins.json (the service worker answers from its cache when
// offline), then imports the plugin's entry module and calls its `mount(root, app)`.

import { connectDeviceBus } from "/peek/shell/bus.js";

/**
 * One plugin app, as listed by /peek/plugins.json.
 * @typedef {object} PluginInfo
 * @property {string} name the plugin's package name; its pages are under /<name>/
 * @property {string} title
 * @property {string} version
 * @property {string} url "/<name>/"
 * @property {string} entry the URL of its entry ES module
 * @property {string|null} icon the URL of its icon, if it has one
 * @property {boolean} home whether the home page lists it
 */

/**
 * The listing: the site, the cache version and the apps.
 * @typedef {object} Listing
 * @property {string} site "mobile" or "desktop"
 * @property {string} version
 * @property {PluginInfo[]} plugins
 */

/**
 * What a plugin's `mount(root, app)` receives.
 * @typedef {object} PeekApp
 * @property {string} site "mobile" or "desktop"
 * @property {PluginInfo} plugin this plugin's listing entry
 * @property {any} bus the page's bus client connection (see /peek/vortex.js)
 * @property {(state: string) => void} [onState] set by the plugin to hear connection states
 */

/** @type {Element} */
const main = /** @type {Element} */ (document.getElementById("peek-main"));
/** @type {HTMLElement} */
const conn = /** @type {HTMLElement} */ (document.getElementById("peek-conn"));
/** @type {HTMLElement} */
const banner = /** @type {HTMLElement} */ (document.getElementById("peek-offline"));

/**
 * Show a connection state in the indicator and the offline banner.
 * @param {string} state "online", "connecting" or "offline"
 */
function showState(state) {
  conn.dataset.state = state;
  conn.textContent = state;
  banner.hidden = state === "online";
  document.body.dataset.connection = state;
}

/**
 * An element with text, safely (no HTML parsing of data).
 * @param {string} tag
 * @param {Record<string, string>} attrs
 * @param {string} [text]
 * @returns {HTMLElement}
 */
function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * The app named by the first path segment, or null on the home page.
 * @param {Listing} listing
 * @returns {PluginInfo|null|undefined} undefined when the path names no listed app
 */
function currentPlugin(listing) {
  const segment = decodeURIComponent(location.pathname.split("/")[1] || "");
  if (!segment) return null;
  return listing.plugins.find((p) => p.name === segment);
}

/**
 * The navigation bar: one link per listed app.
 * @param {Listing} listing
 * @param {PluginInfo|null|undefined} current
 */
function renderNav(listing, current) {
  const nav = /** @type {Element} */ (document.getElementById("peek-nav"));
  nav.replaceChildren();
  for (const plugin of listing.plugins.filter((p) => p.home)) {
    const link = el("a", { href: plugin.url, "data-plugin": plugin.name }, plugin.title);
    if (current && current.name === plugin.name) link.setAttribute("aria-current", "page");
    nav.append(link);
  }
}

/**
 * The home page: a tile per app, with its icon (or its initial).
 * @param {Listing} listing
 */
function renderHome(listing) {
  const apps = listing.plugins.filter((p) => p.home);
  const heading = el("h1", {}, listing.site === "desktop" ? "Peek Desktop" : "Peek");
  if (!apps.length) {
    main.replaceChildren(heading, el("p", { class: "peek-muted" }, "No apps are enabled."));
    return;
  }
  const grid = el("div", { class: "peek-home", id: "peek-home" });
  for (const plugin of apps) {
    const tile = el("a", { class: "peek-tile", href: plugin.url, "data-plugin": plugin.name });
    if (plugin.icon) {
      tile.append(el("img", { src: plugin.icon, alt: "" }));
    } else {
      tile.append(el("span", { class: "peek-tile-letter" }, plugin.title.charAt(0)));
    }
    tile.append(el("span", { class: "peek-tile-title" }, plugin.title));
    grid.append(tile);
  }
  main.replaceChildren(heading, grid);
}

/**
 * Import the app's entry module and mount it.
 * @param {Listing} listing
 * @param {PluginInfo} plugin
 */
async function renderPlugin(listing, plugin) {
  document.title = `${plugin.title} - Peek`;
  const root = el("section", { class: "peek-app", "data-plugin": plugin.name });
  main.replaceChildren(root);
  /** @type {PeekApp} */
  const app = { site: listing.site, plugin, bus: null };
  try {
    app.bus = await connectDeviceBus(/** @param {string} s */ (s) => {
      showState(s);
      if (app.onState) app.onState(s);
    });
    const module = await import(plugin.entry);
    if (typeof module.mount !== "function") {
      throw new Error(`${plugin.entry} does not export mount(root, app)`);
    }
    await module.mount(root, app);
  } catch (error) {
    console.error("peek shell:", error);
    root.replaceChildren(el("p", { class: "peek-error" },
      `${plugin.title} could not start: ${error instanceof Error ? error.message : error}`));
  }
}

/** Register the service worker so the shell opens offline (needs a secure context). */
async function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) {
    document.body.dataset.sw = "unsupported";
    return;
  }
  try {
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    await navigator.serviceWorker.ready;
    document.body.dataset.sw = "ready";
  } catch (error) {
    console.warn("peek shell: no offline support:", error);
    document.body.dataset.sw = "failed";
  }
}

async function start() {
  showState(navigator.onLine ? "connecting" : "offline");
  /** @type {Listing} */
  let listing;
  try {
    const response = await fetch("/peek/plugins.json", { cache: "no-cache" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    listing = await response.json();
  } catch (error) {
    main.replaceChildren(el("p", { class: "peek-error" },
      "The app list cannot be loaded (offline and not saved yet)."));
    showState("offline");
    return;
  }
  document.body.dataset.site = listing.site;
  const plugin = currentPlugin(listing);
  renderNav(listing, plugin);
  if (plugin === null) {
    renderHome(listing);
    // The home page still shows whether the client service can be reached.
    connectDeviceBus(showState).catch((e) => console.warn("peek shell:", e));
  } else if (plugin === undefined) {
    main.replaceChildren(el("h1", {}, "Not found"),
      el("p", { class: "peek-muted" }, "No enabled app has this address."),
      el("a", { href: "/" }, "Home"));
  } else {
    await renderPlugin(listing, plugin);
  }
  document.body.dataset.ready = "true";
}

registerServiceWorker();
start();
