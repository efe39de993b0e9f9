/**
 * @file ``<peek-admin-data>``: the tuple-loader pages server plugins declare
 * (``plugin_package.json`` ``admin.tupleLoaders``): load, edit, add and delete rows through
 * the plugin's OrmCrudHandler, as the seed's admin tuple loaders do.
 */

import { errorText, tupleClass, tupleLoader, TupleLoaderTuple, watch } from "./bus.js";
import { fill, h } from "./ui.js";

/** @typedef {import("/peek/vortex.js").Tuple} Tuple */

/**
 * The value for ``field`` from ``text``: a number where the column holds numbers (or,
 * for a column with no values yet, where the text is one), ``null`` for an empty cell.
 * @param {string} text
 * @param {string | undefined} kind the JavaScript type the column's values have
 */
function cellValue(text, kind) {
  if (text === "") return null;
  const number = Number(text.trim());
  if ((kind === "number" || kind === undefined) && text.trim() !== "" && Number.isFinite(number)) {
    return number;
  }
  if (kind === "boolean") return text === "true";
  return text;
}

export class AdminData extends HTMLElement {
  constructor() {
    super();
    /** @type {TupleLoaderTuple[]} */
    this.loaders = [];
    /** @type {TupleLoaderTuple | null} */
    this.loader = null;
    this.select = /** @type {HTMLSelectElement} */ (h("select", { id: "loader", "aria-label": "Table",
      onchange: () => this.choose(this.select.value) }));
    this.status = h("p", { class: "status", "aria-live": "polite" });
    this.table = h("div", { id: "loader-table" });
  }

  connectedCallback() {
    fill(this, h("form", { class: "bar", onsubmit: (/** @type {Event} */ e) => e.preventDefault() },
      h("label", {}, "Table ", this.select),
      h("button", { type: "button", id: "reload-rows", onclick: () => this.load() }, "Reload")),
    this.status, this.table);
    this.subscription = watch(TupleLoaderTuple.tupleType, {},
      (/** @type {TupleLoaderTuple[]} */ loaders) => this.render(loaders),
      (error) => fill(this.status, h("span", { class: "error" }, error.message)));
  }

  disconnectedCallback() {
    this.subscription?.unsubscribe();
  }

  /** @param {TupleLoaderTuple} l */
  static id(l) {
    return `${l.pluginName}:${l.tupleType}`;
  }

  /** @param {TupleLoaderTuple[]} loaders */
  render(loaders) {
    this.loaders = loaders;
    const current = this.loader ? AdminData.id(this.loader) : window.location.hash.slice(1);
    fill(this.select, loaders.map((l) => h("option", { value: AdminData.id(l) }, `${l.pluginName}: ${l.title}`)));
    if (!loaders.length) {
      fill(this.table, h("p", { class: "muted" }, "No running server plugin declares a tuple loader."));
      return;
    }
    const found = loaders.find((l) => AdminData.id(l) === current) || loaders[0];
    this.select.value = AdminData.id(found);
    if (!this.loader || AdminData.id(this.loader) !== AdminData.id(found)) this.choose(AdminData.id(found));
  }

  /** @param {string} id */
  choose(id) {
    this.loader = this.loaders.find((l) => AdminData.id(l) === id) || null;
    if (this.loader) window.history.replaceState(null, "", `#${id}`);
    this.load();
  }

  /** The loader's tuple class (declared here from its fields when the page has none). */
  cls() {
    const l = /** @type {TupleLoaderTuple} */ (this.loader);
    return tupleClass(l.tupleType, l.fields);
  }

  async load() {
    if (!this.loader) return;
    // Declared before the first answer arrives, so the codec can decode its rows.
    this.cls();
    fill(this.status, "Loading...");
    try {
      const rows = await tupleLoader(this.loader.filt, []);
      this.renderRows(rows);
      fill(this.status, `${rows.length} rows`);
    } catch (error) {
      fill(this.status, h("span", { class: "error" }, errorText(error)));
    }
  }

  /**
   * Run one loader request, then show the rows again (with what went wrong, if anything).
   * @param {string} what
   * @param {Tuple[]} tuples
   * @param {Record<string, unknown>} [extra]
   */
  async send(what, tuples, extra) {
    if (!this.loader) return;
    try {
      await tupleLoader(this.loader.filt, tuples, extra);
      await this.load();
      fill(this.status, h("span", { class: "ok" }, `${what}: done`));
    } catch (error) {
      fill(this.status, h("span", { class: "error" }, `${what} failed: ${errorText(error)}`));
    }
  }

  /** @param {Tuple[]} rows */
  renderRows(rows) {
    const l = /** @type {TupleLoaderTuple} */ (this.loader);
    const fields = l.fields;
    /** @type {Record<string, string>} */
    const kinds = {};
    for (const row of rows) {
      const values = row.tupleToDict();
      for (const f of fields) if (values[f] !== null && values[f] !== undefined) kinds[f] ??= typeof values[f];
    }
    /**
     * One editable row: inputs for every field but ``id``, and its buttons.
     * @param {Record<string, unknown> | null} values null for the "add" row
     */
    const row = (values) => {
      /** @type {Record<string, HTMLInputElement>} */
      const inputs = {};
      const cells = fields.map((f) => {
        if (f === "id") return h("td", { class: "id" }, values ? String(values.id ?? "") : "new");
        inputs[f] = /** @type {HTMLInputElement} */ (h("input", { name: f, "aria-label": f,
          value: values ? String(values[f] ?? "") : "" }));
        return h("td", {}, inputs[f]);
      });
      const tuple = () => {
        /** @type {Record<string, unknown>} */
        const data = {};
        if (values && fields.includes("id")) data.id = values.id;
        for (const [f, input] of Object.entries(inputs)) data[f] = cellValue(input.value, kinds[f]);
        return this.cls().create(/** @type {any} */ (data));
      };
      const buttons = values ? [
        h("button", { type: "button", dataset: { op: "save" }, onclick: () => this.send("save", [tuple()]) }, "Save"),
        h("button", { type: "button", dataset: { op: "delete" },
          onclick: () => this.send("delete", [], { delete: true, id: values.id }) }, "Delete"),
      ] : h("button", { type: "button", dataset: { op: "add" }, onclick: () => this.send("add", [tuple()]) }, "Add");
      return h("tr", { dataset: { id: values ? String(values.id ?? "") : "new" } }, cells, h("td", {}, buttons));
    };
    fill(this.table, h("table", { class: "rows" },
      h("thead", {}, h("tr", {}, fields.map((f) => h("th", {}, f)), h("th", {}, ""))),
      h("tbody", {}, rows.map((r) => row(r.tupleToDict())), row(null))));
  }
}
customElements.define("peek-admin-data", AdminData);
