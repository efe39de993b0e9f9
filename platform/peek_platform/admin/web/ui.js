/**
 * @file Small DOM helpers of the admin pages. Everything that comes from the bus is put
 * into the DOM as text, never as HTML.
 */

/**
 * @typedef {string | number | Node | null | undefined | false} Child
 */

/**
 * A new element: ``attrs`` are attributes (``on<event>`` ones become listeners,
 * ``dataset`` an object of data attributes), ``children`` text or nodes.
 * @param {string} tag
 * @param {Record<string, unknown>} [attrs]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    } else if (name === "dataset" && typeof value === "object") {
      for (const [k, v] of Object.entries(/** @type {Record<string, string>} */ (value))) {
        el.dataset[k] = v;
      }
    } else if (name === "value" && "value" in el) {
      // The attribute too: it is the field's initial value (what a reset restores).
      el.setAttribute("value", String(value));
      /** @type {HTMLInputElement} */ (el).value = String(value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replace everything inside ``el`` with ``children``. @param {Element} el @param {...(Child | Child[])} children */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false)
    .map((c) => (c instanceof Node ? c : String(c))));
}

/** ``12 d 3 h``, ``4 h 5 min``, ``6 min 7 s``, ``8 s``. @param {number | null} seconds */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400);
  const hr = Math.floor((s % 86400) / 3600);
  const min = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${hr} h`;
  if (hr) return `${hr} h ${min} min`;
  if (min) return `${min} min ${s % 60} s`;
  return `${s} s`;
}

/** A time as ``2026-01-31 12:34:56`` (UTC); ``-`` for none. @param {unknown} value */
export function when(value) {
  if (value instanceof Date) return `${value.toISOString().slice(0, 19).replace("T", " ")} UTC`;
  return value === null || value === undefined ? "-" : String(value);
}

/** ``12.3 MB``. @param {number | null} bytes */
export function megabytes(bytes) {
  return bytes === null || bytes === undefined ? "-" : `${(bytes / 1e6).toFixed(1)} MB`;
}

/** A state badge: ``<span class="state state-running">running</span>``. @param {string | null} state */
export function stateBadge(state) {
  return h("span", { class: `state state-${state || "unknown"}` }, state || "unknown");
}

/** The service's short label: ``agent @ host (pid 123)``. @param {{service: string, host: string | null, pid: number | null}} s */
export function serviceLabel(s) {
  return `${s.service} @ ${s.host || "?"} (pid ${s.pid ?? "?"})`;
}

/** The sort order of the services: server, clients, agents, workers. */
const ORDER = ["server", "client", "agent", "worker"];

/**
 * Services sorted by kind, then id.
 * @template {{service: string, serviceId: string}} S
 * @param {S[]} services
 * @returns {S[]}
 */
export function sortServices(services) {
  return [...services].sort((a, b) => (ORDER.indexOf(a.service) - ORDER.indexOf(b.service)) ||
    a.serviceId.localeCompare(b.serviceId));
}
