/**
 * @file ``<peek-admin-settings>``: a server plugin's settings (its SettingProperty keys),
 * edited through the bus (``AdminRpc.updateSetting``), and every service's config.json
 * as the service reported it, with its secrets already masked by the service.
 */

import { errorText, PluginSettingTuple, ServiceStateTuple, updateSetting, watch } from "./bus.js";
import { fill, h, serviceLabel, sortServices } from "./ui.js";

/** @typedef {import("/peek/vortex.js").Subscription} Subscription */

/**
 * The value typed in ``input`` as the setting's type; throws naming what is wrong.
 * @param {PluginSettingTuple} setting
 * @param {HTMLInputElement} input
 */
function typedValue(setting, input) {
  if (setting.type === "bool") return input.checked;
  if (setting.type === "int" || setting.type === "float") {
    const text = input.value.trim();
    const value = Number(text);
    if (text === "" || !Number.isFinite(value)) throw new Error(`${setting.key} needs a number`);
    if (setting.type === "int" && !Number.isInteger(value)) {
      throw new Error(`${setting.key} needs a whole number`);
    }
    return value;
  }
  return input.value;
}

export class AdminSettings extends HTMLElement {
  constructor() {
    super();
    this.pluginSelect = /** @type {HTMLSelectElement} */ (h("select", { id: "settings-plugin", "aria-label": "Plugin",
      onchange: () => this.showPlugin(this.pluginSelect.value) }));
    this.settings = h("div", { id: "plugin-settings" });
    this.configs = h("div", { id: "service-configs" });
    /** @type {Subscription | null} */
    this.settingsSub = null;
    /** @type {string | null} */
    this.shownPlugin = null;
    /** The last save's outcome per key: rows are drawn again when the values change.
     * @type {Map<string, {ok: boolean, text: string}>} */
    this.outcomes = new Map();
    /** What the admin typed and has not saved yet, per key: kept when the rows are drawn
     * again (a value saved elsewhere must not wipe an edit in progress).
     * @type {Map<string, string | boolean>} */
    this.drafts = new Map();
    /** Configs the admin opened, kept open when the services report again. @type {Set<string>} */
    this.openConfigs = new Set();
  }

  connectedCallback() {
    fill(this,
      h("section", { class: "card" }, h("h2", {}, "Plugin settings"),
        h("label", {}, "Server plugin ", this.pluginSelect), this.settings),
      h("section", {}, h("h2", {}, "Service configuration (secrets masked)"), this.configs));
    this.subscription = watch(ServiceStateTuple.tupleType, {},
      (/** @type {ServiceStateTuple[]} */ services) => this.render(services));
  }

  disconnectedCallback() {
    this.subscription?.unsubscribe();
    this.settingsSub?.unsubscribe();
  }

  /** @param {ServiceStateTuple[]} services */
  render(services) {
    const server = services.find((s) => s.service === "server");
    const names = (server?.plugins || []).filter((p) => p.state === "running").map((p) => p.name || "");
    const wanted = this.shownPlugin && names.includes(this.shownPlugin) ? this.shownPlugin : names[0];
    fill(this.pluginSelect, names.map((n) => h("option", { value: n }, n)));
    if (wanted) {
      this.pluginSelect.value = wanted;
      if (wanted !== this.shownPlugin) this.showPlugin(wanted);
    }
    fill(this.configs, sortServices(services).map((s) => h("details", { class: "card config",
      dataset: { serviceId: s.serviceId, service: s.service }, open: this.openConfigs.has(s.serviceId),
      ontoggle: (/** @type {Event} */ e) => {
        const el = /** @type {HTMLDetailsElement} */ (e.target);
        if (el.open) this.openConfigs.add(s.serviceId); else this.openConfigs.delete(s.serviceId);
      } },
    h("summary", {}, serviceLabel(s), " - ", s.home || ""),
    h("pre", {}, JSON.stringify(s.config, null, 2)))));
  }

  /** @param {string} pluginName */
  showPlugin(pluginName) {
    this.settingsSub?.unsubscribe();
    this.shownPlugin = pluginName;
    this.outcomes.clear();
    this.drafts.clear();
    fill(this.settings, h("p", { class: "muted" }, "Loading..."));
    this.settingsSub = watch(PluginSettingTuple.tupleType, { pluginName },
      (/** @type {PluginSettingTuple[]} */ settings) => this.renderSettings(pluginName, settings),
      (error) => fill(this.settings, h("p", { class: "muted" }, errorText(error))));
  }

  /**
   * @param {string} pluginName
   * @param {PluginSettingTuple[]} settings
   */
  renderSettings(pluginName, settings) {
    if (!settings.length) {
      fill(this.settings, h("p", { class: "muted" }, `${pluginName} declares no settings.`));
      return;
    }
    fill(this.settings, h("table", { class: "settings" },
      h("thead", {}, h("tr", {}, ["Key", "Value", "Default", ""].map((t) => h("th", {}, t)))),
      h("tbody", {}, settings.map((s) => this.settingRow(pluginName, s)))));
  }

  /**
   * @param {string} pluginName
   * @param {PluginSettingTuple} setting
   */
  settingRow(pluginName, setting) {
    const input = /** @type {HTMLInputElement} */ (h("input", {
      name: setting.key, "aria-label": setting.key,
      type: setting.type === "bool" ? "checkbox" : setting.type === "str" ? "text" : "number",
      step: setting.type === "float" ? "any" : undefined,
      checked: setting.type === "bool" && setting.value === true,
      value: setting.type === "bool" ? undefined : String(setting.value ?? "") }));
    const draft = this.drafts.get(setting.key);
    if (typeof draft === "boolean") input.checked = draft;
    else if (draft !== undefined) input.value = draft;
    input.addEventListener("input", () => {
      this.drafts.set(setting.key, setting.type === "bool" ? input.checked : input.value);
    });
    const status = h("span", { class: "status", "aria-live": "polite" });
    /** @param {{ok: boolean, text: string}} outcome */
    const show = (outcome) => {
      this.outcomes.set(setting.key, outcome);
      // The row shown now (the stored value's update may have drawn a new one).
      const current = this.settings.querySelector(`tr[data-key="${CSS.escape(setting.key)}"] .status`);
      fill(current || status, h("span", { class: outcome.ok ? "ok" : "error" }, outcome.text));
    };
    const previous = this.outcomes.get(setting.key);
    if (previous) fill(status, h("span", { class: previous.ok ? "ok" : "error" }, previous.text));
    const save = async () => {
      try {
        const current = /** @type {HTMLInputElement | null} */ (this.settings.querySelector(
          `tr[data-key="${CSS.escape(setting.key)}"] input`)) || input;
        const stored = await updateSetting(pluginName, setting.key, typedValue(setting, current));
        this.drafts.delete(setting.key);
        show({ ok: true, text: `saved: ${JSON.stringify(stored)}` });
      } catch (error) {
        show({ ok: false, text: errorText(error) });
      }
    };
    return h("tr", { dataset: { key: setting.key } },
      h("td", {}, setting.key), h("td", {}, input),
      h("td", { class: "muted" }, JSON.stringify(setting.defaultValue)),
      h("td", {}, h("button", { type: "button", onclick: save }, "Save"), " ", status));
  }
}
customElements.define("peek-admin-settings", AdminSettings);
