/**
 * @file ``<peek-admin-dashboard>``: every service (server, clients, agents, workers) with
 * live/gone, process facts, bus connection, plugins running and, for clients, devices.
 */

import { ServiceStateTuple, watch } from "./bus.js";
import { duration, fill, h, megabytes, serviceLabel, sortServices, stateBadge, when } from "./ui.js";

/** @param {ServiceStateTuple} s */
function serviceCard(s) {
  const running = s.plugins.filter((p) => p.state === "running").length;
  return h("article", { class: "card service", dataset: {
    serviceId: s.serviceId, service: s.service, live: String(s.live) } },
  h("h2", {}, serviceLabel(s), " ", stateBadge(s.live ? "up" : "gone")),
  h("dl", {},
    h("dt", {}, "Id"), h("dd", {}, s.serviceId),
    h("dt", {}, "Version"), h("dd", {}, s.version || "-"),
    h("dt", {}, "Uptime"), h("dd", { class: "uptime" }, s.live ? duration(s.uptimeSeconds) : "-"),
    h("dt", {}, "Memory"), h("dd", {}, megabytes(s.rssBytes)),
    h("dt", {}, "Bus"), h("dd", {}, s.service === "server" ? "hub" :
      `${s.vortexName || "?"} ${s.vortexUuid || ""} to ${s.busPeer || "?"}`),
    h("dt", {}, s.live ? "Last report" : "Gone since"),
    h("dd", {}, when(s.live ? s.lastReportAt : s.goneAt)),
    h("dt", {}, "Plugins"),
    h("dd", { class: "plugin-summary" }, `${running} of ${s.plugins.length} running`,
      h("ul", { class: "plugin-list" }, s.plugins.map((p) => h("li", { dataset: { plugin: p.name || "" } },
        p.name, " ", stateBadge(p.state))))),
    s.service === "client" ? [
      h("dt", {}, "Devices"),
      h("dd", { class: "devices" }, `${s.deviceCount}`,
        h("ul", {}, s.devices.map((d) => h("li", {}, `${d.vortexName} ${d.address || ""}`)))),
    ] : null));
}

export class AdminDashboard extends HTMLElement {
  connectedCallback() {
    fill(this, h("p", { class: "muted" }, "Waiting for the services' state..."));
    this.subscription = watch(ServiceStateTuple.tupleType, {},
      (/** @type {ServiceStateTuple[]} */ services) => this.render(services),
      (error) => fill(this, h("p", { class: "error" }, error.message)));
  }

  disconnectedCallback() {
    this.subscription?.unsubscribe();
  }

  /** @param {ServiceStateTuple[]} services */
  render(services) {
    const live = services.filter((s) => s.live).length;
    fill(this,
      h("p", { class: "summary" }, `${live} of ${services.length} services up`),
      h("div", { class: "cards" }, sortServices(services).map(serviceCard)));
  }
}
customElements.define("peek-admin-dashboard", AdminDashboard);
