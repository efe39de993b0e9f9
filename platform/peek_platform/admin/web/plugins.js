/**
 * @file ``<peek-admin-plugins>``: per service, the enabled plugins (version, state and its
 * recent changes, failure reason with an expandable traceback, timings) and the plugins
 * installed but not enabled; enable, disable or reload one plugin on one service or on
 * every live service. The service applies the command itself; the result and the state
 * changes (``stopping → running``) show as they are reported.
 */

import { controlPlugin, errorText, ServiceStateTuple, watch } from "./bus.js";
import { fill, h, serviceLabel, sortServices, stateBadge } from "./ui.js";

/** @typedef {import("./bus.js").PluginStateTuple} PluginStateTuple */

/** How many recent state changes a row shows. */
const HISTORY_SHOWN = 4;

export class AdminPlugins extends HTMLElement {
  constructor() {
    super();
    /** @type {ServiceStateTuple[]} */
    this.services = [];
    /** Tracebacks the admin opened, kept open across updates. @type {Set<string>} */
    this.openDetails = new Set();
    this.result = h("div", { id: "control-result", class: "result", "aria-live": "polite" });
    this.body = h("div", {});
    this.pluginSelect = /** @type {HTMLSelectElement} */ (h("select", { id: "all-plugin", "aria-label": "Plugin" }));
  }

  connectedCallback() {
    const allBar = h("form", { class: "bar", id: "control-all",
      onsubmit: (/** @type {Event} */ e) => e.preventDefault() },
    h("strong", {}, "On every live service: "), this.pluginSelect,
    ["enable", "disable", "reload"].map((op) => h("button", { type: "button", dataset: { op },
      onclick: () => this.control("*", this.pluginSelect.value, op) }, `${op[0].toUpperCase()}${op.slice(1)} on all`)));
    fill(this, allBar, this.result, this.body);
    this.subscription = watch(ServiceStateTuple.tupleType, {},
      (/** @type {ServiceStateTuple[]} */ services) => this.render(services),
      (error) => fill(this.result, h("p", { class: "error" }, error.message)));
  }

  disconnectedCallback() {
    this.subscription?.unsubscribe();
  }

  /**
   * Send one command and show what each service answered.
   * @param {string} serviceId
   * @param {string} pluginName
   * @param {string} operation
   */
  async control(serviceId, pluginName, operation) {
    if (!pluginName) return;
    const where = serviceId === "*" ? "every live service" : serviceId;
    fill(this.result, h("p", { class: "pending" }, `${operation} ${pluginName} on ${where}...`));
    try {
      const results = await controlPlugin(serviceId, pluginName, operation);
      fill(this.result, h("ul", {}, results.map((r) => h("li", {
        class: r.ok ? "ok" : "error", dataset: { serviceId: r.serviceId || "", ok: String(r.ok) } },
      `${r.operation} ${r.pluginName} on ${r.serviceId}: `,
      r.ok ? `done, now ${r.state}` : `failed: ${r.error || r.state}`))));
    } catch (error) {
      fill(this.result, h("p", { class: "error" }, `${operation} ${pluginName} on ${where} failed: ${errorText(error)}`));
    }
  }

  /** @param {ServiceStateTuple[]} services */
  render(services) {
    this.services = sortServices(services);
    const names = new Set();
    for (const s of services) {
      for (const p of [...s.plugins, ...s.installedNotEnabled]) names.add(p.name);
    }
    const chosen = this.pluginSelect.value;
    fill(this.pluginSelect, [...names].sort().map((n) => h("option", { value: n }, n)));
    if (names.has(chosen)) this.pluginSelect.value = chosen;
    fill(this.body, this.services.map((s) => this.serviceSection(s)));
  }

  /** @param {ServiceStateTuple} s */
  serviceSection(s) {
    const worker = s.service === "worker";
    return h("section", { class: "card", dataset: { serviceId: s.serviceId, service: s.service, live: String(s.live) } },
      h("h2", {}, serviceLabel(s), " ", stateBadge(s.live ? "up" : "gone")),
      worker ? h("p", { class: "muted" }, "The worker applies plugin changes at its restart "
        + "(edit its plugin.enabled and restart it).") : null,
      h("table", { class: "plugins" },
        h("thead", {}, h("tr", {}, ["Plugin", "Version", "State", "Reason", "Load / start", ""].map((t) => h("th", {}, t)))),
        h("tbody", {},
          s.plugins.map((p) => this.pluginRow(s, p, worker)),
          s.installedNotEnabled.map((p) => this.pluginRow(s, p, worker)))));
  }

  /**
   * @param {ServiceStateTuple} s
   * @param {PluginStateTuple} p
   * @param {boolean} worker
   */
  pluginRow(s, p, worker) {
    const key = `${s.serviceId}|${p.name}`;
    const history = (p.history || []).slice(-HISTORY_SHOWN).map((change) => change[0]);
    const details = p.traceback ? h("details", { open: this.openDetails.has(key),
      ontoggle: (/** @type {Event} */ e) => {
        const el = /** @type {HTMLDetailsElement} */ (e.target);
        if (el.open) this.openDetails.add(key); else this.openDetails.delete(key);
      } }, h("summary", {}, "traceback"), h("pre", { class: "traceback" }, p.traceback)) : null;
    const canControl = s.live && !worker && p.name;
    /** @param {string} op @param {string} label */
    const button = (op, label) => h("button", { type: "button", dataset: { op },
      disabled: !canControl, onclick: () => this.control(s.serviceId, p.name || "", op) }, label);
    const installedOnly = p.state === "installed";
    return h("tr", { dataset: { plugin: p.name || "", state: p.state || "", enabled: String(!installedOnly) } },
      h("td", {}, h("strong", {}, p.name), p.title && p.title !== p.name ? h("div", { class: "muted" }, p.title) : null),
      h("td", {}, p.version || "-"),
      h("td", {}, stateBadge(installedOnly ? "installed, not enabled" : p.state),
        history.length > 1 ? h("div", { class: "history muted" }, history.join(" → ")) : null),
      h("td", { class: "reason" }, p.reason || "", details),
      h("td", {}, installedOnly ? "" : `${fmt(p.loadSeconds)} / ${fmt(p.startSeconds)}`),
      h("td", { class: "actions" }, installedOnly ? button("enable", "Enable")
        : [button("reload", "Reload"), button("disable", "Disable")]));
  }
}

/** Seconds with milliseconds, or ``-``. @param {number | null} seconds */
function fmt(seconds) {
  return typeof seconds === "number" ? `${seconds.toFixed(3)} s` : "-";
}

customElements.define("peek-admin-plugins", AdminPlugins);
