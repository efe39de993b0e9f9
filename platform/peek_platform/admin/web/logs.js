/**
 * @file ``<peek-admin-logs>``: the tail of one service's log, live, filtered by minimum
 * level and by plugin (the server filters; the page shows what it sends).
 */

import { LogLineTuple, ServiceStateTuple, watch } from "./bus.js";
import { fill, h, serviceLabel, sortServices, when } from "./ui.js";

/** @typedef {import("/peek/vortex.js").Subscription} Subscription */

const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

export class AdminLogs extends HTMLElement {
  constructor() {
    super();
    const refilter = () => this.follow();
    this.serviceSelect = /** @type {HTMLSelectElement} */ (h("select", { id: "log-service", onchange: refilter }));
    this.levelSelect = /** @type {HTMLSelectElement} */ (h("select", { id: "log-level", onchange: refilter },
      h("option", { value: "" }, "any level"), LEVELS.map((l) => h("option", { value: l }, `${l} and above`))));
    this.pluginSelect = /** @type {HTMLSelectElement} */ (h("select", { id: "log-plugin", onchange: refilter },
      h("option", { value: "" }, "any plugin")));
    this.lines = h("table", { id: "log-lines", class: "log" });
    this.count = h("span", { class: "muted" });
    /** @type {Subscription | null} */
    this.linesSub = null;
    /** The filter the shown lines answer (service, level, plugin). */
    this.followed = "";
  }

  connectedCallback() {
    const params = new URLSearchParams(window.location.search);
    this.initial = { service: params.get("service") || "", level: params.get("level") || "",
      plugin: params.get("plugin") || "" };
    this.levelSelect.value = this.initial.level;
    fill(this, h("form", { class: "bar", onsubmit: (/** @type {Event} */ e) => e.preventDefault() },
      h("label", {}, "Service ", this.serviceSelect),
      h("label", {}, "Level ", this.levelSelect),
      h("label", {}, "Plugin ", this.pluginSelect), this.count),
    h("div", { class: "log-box" }, this.lines));
    this.subscription = watch(ServiceStateTuple.tupleType, {},
      (/** @type {ServiceStateTuple[]} */ services) => this.render(services));
  }

  disconnectedCallback() {
    this.subscription?.unsubscribe();
    this.linesSub?.unsubscribe();
  }

  /** @param {ServiceStateTuple[]} services */
  render(services) {
    const sorted = sortServices(services);
    const chosen = this.serviceSelect.value || this.initial?.service || "";
    fill(this.serviceSelect, sorted.map((s) => h("option", { value: s.serviceId },
      `${serviceLabel(s)}${s.live ? "" : " (gone)"}`)));
    const ids = sorted.map((s) => s.serviceId);
    const byKind = sorted.find((s) => s.service === chosen);
    this.serviceSelect.value = ids.includes(chosen) ? chosen : byKind ? byKind.serviceId : ids[0] || "";
    const current = sorted.find((s) => s.serviceId === this.serviceSelect.value);
    const plugin = this.pluginSelect.value || this.initial?.plugin || "";
    const names = (current?.plugins || []).map((p) => p.name || "");
    fill(this.pluginSelect, h("option", { value: "" }, "any plugin"),
      names.map((n) => h("option", { value: n }, n)));
    this.pluginSelect.value = names.includes(plugin) ? plugin : "";
    this.follow();
  }

  /** Subscribe to the log lines the filters choose (again only when they changed). */
  follow() {
    const serviceId = this.serviceSelect.value;
    const selector = /** @type {Record<string, unknown>} */ ({ serviceId });
    if (this.levelSelect.value) selector.level = this.levelSelect.value;
    if (this.pluginSelect.value) selector.plugin = this.pluginSelect.value;
    const key = JSON.stringify(selector);
    if (!serviceId || key === this.followed) return;
    this.followed = key;
    this.linesSub?.unsubscribe();
    fill(this.lines);
    this.linesSub = watch(LogLineTuple.tupleType, selector,
      (/** @type {LogLineTuple[]} */ lines) => this.renderLines(lines),
      (error) => fill(this.lines, h("tr", {}, h("td", { class: "error" }, error.message))));
  }

  /** @param {LogLineTuple[]} lines */
  renderLines(lines) {
    const box = this.lines.parentElement;
    const atBottom = !box || box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
    fill(this.count, `${lines.length} lines`);
    fill(this.lines, lines.map((l) => h("tr", { class: `level-${l.level}`, dataset: { seq: String(l.seq) } },
      h("td", { class: "time" }, when(l.time)), h("td", { class: "level" }, l.level),
      h("td", { class: "logger" }, l.logger || ""), h("td", { class: "message" }, l.message))));
    if (box && atBottom) box.scrollTop = box.scrollHeight;
  }
}
customElements.define("peek-admin-logs", AdminLogs);
