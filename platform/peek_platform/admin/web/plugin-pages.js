/**
 * @file ``<peek-admin-plugin-pages>``: the admin pages plugins contribute. A plugin
 * declares one in ``plugin_package.json`` (``"admin": {"webDir": ..., "entry": ...}``, the
 * shape of its ``mobile``/``desktop`` sections); its entry ES module exports
 * ``mount(root, app)`` and gets the admin bus (see {@link AdminApp}).
 */

import * as bus from "./bus.js";
import { adminFetch, csrfToken } from "./admin.js";
import { fill, h } from "./ui.js";

/**
 * What a plugin's admin module gets: the page's ``peek-admin`` bus client, this site's
 * bus helpers (``watch``, ``tupleLoader``, ``tupleClass``, ...), and the CSRF-aware fetch.
 * @typedef {object} AdminApp
 * @property {import("/peek/vortex.js").VortexClient} client
 * @property {typeof bus} bus
 * @property {typeof adminFetch} adminFetch
 * @property {typeof csrfToken} csrfToken
 * @property {string} pluginName
 * @property {string} baseUrl the plugin's files: ``/<pluginName>/``
 */

/**
 * @typedef {object} AdminUiListing
 * @property {string} name
 * @property {string} title
 * @property {string} version
 * @property {string} url
 * @property {string} entry
 * @property {string | null} icon
 */

export class AdminPluginPages extends HTMLElement {
  async connectedCallback() {
    const nav = h("nav", { class: "plugin-pages" });
    const root = h("section", { id: "plugin-page", class: "card" });
    fill(this, nav, root);
    const response = await adminFetch("/plugin-pages.json");
    if (!response.ok) {
      fill(root, h("p", { class: "error" }, `The plugin pages could not be listed (${response.status}).`));
      return;
    }
    /** @type {{plugins: AdminUiListing[]}} */
    const listing = await response.json();
    const chosen = new URLSearchParams(window.location.search).get("plugin");
    fill(nav, listing.plugins.map((p) => h("a", { href: `?plugin=${encodeURIComponent(p.name)}`,
      "aria-current": p.name === chosen ? "page" : undefined },
    p.icon ? h("img", { src: p.icon, alt: "", width: 20, height: 20 }) : null, ` ${p.title}`)));
    const ui = listing.plugins.find((p) => p.name === chosen);
    if (!listing.plugins.length) {
      fill(root, h("p", { class: "muted" }, "No enabled server plugin contributes an admin page."));
    } else if (!ui) {
      fill(root, h("p", { class: "muted" }, "Choose a plugin above."));
    } else {
      await this.mountPlugin(ui, root);
    }
  }

  /**
   * Import the plugin's entry module and let it draw into ``root``.
   * @param {AdminUiListing} ui
   * @param {HTMLElement} root
   */
  async mountPlugin(ui, root) {
    fill(root, h("h2", {}, ui.title, " ", h("span", { class: "muted" }, ui.version)));
    const body = h("div", { class: "plugin-body", dataset: { plugin: ui.name } });
    root.append(body);
    try {
      const module = await import(ui.entry);
      if (typeof module.mount !== "function") throw new Error(`${ui.entry} exports no mount(root, app)`);
      /** @type {AdminApp} */
      const app = { client: bus.adminClient(), bus, adminFetch, csrfToken, pluginName: ui.name,
        baseUrl: ui.url };
      await module.mount(body, app);
    } catch (error) {
      fill(body, h("p", { class: "error" }, `The admin page of ${ui.name} failed: ${bus.errorText(error)}`));
    }
  }
}
customElements.define("peek-admin-plugin-pages", AdminPluginPages);
