/**
 * @file The tutorial's admin page (the admin site's "Plugin pages"): the StringInt
 * table's rows and total, live, observed straight from the server plugin's observable
 * over the admin bus. Editing is on the "Plugin data" page (the tuple loader).
 */

import { TupleDataObserver, TupleSelector } from "/peek/vortex.js";

/** @typedef {import("/admin-ui/plugin-pages.js").AdminApp} AdminApp */

/**
 * Draw the page into ``root``.
 * @param {HTMLElement} root
 * @param {AdminApp} app
 */
export function mount(root, app) {
  const { tupleClass } = app.bus;
  // The same type names and fields as the plugin's Python tuples.
  tupleClass("peek_plugin_tutorial.StringIntTuple", ["id", "string1", "int1"]);
  tupleClass("peek_plugin_tutorial.StringIntTotalTuple", ["total", "rowCount"]);
  const observer = new TupleDataObserver(app.client, "peek_plugin_tutorial",
    { additionalFilt: { plugin: "peek_plugin_tutorial" }, destVortexName: "peek-server" });
  const total = document.createElement("p");
  total.className = "tutorial-total";
  const list = document.createElement("ul");
  list.className = "tutorial-rows";
  root.append(total, list);
  observer.subscribe(TupleSelector.of("peek_plugin_tutorial.StringIntTuple"), (rows) => {
    list.replaceChildren(...rows.map((row) => {
      const { id, string1, int1 } = row.tupleToDict();
      const item = document.createElement("li");
      item.textContent = `${id}: ${string1} = ${int1}`;
      return item;
    }));
  });
  observer.subscribe(TupleSelector.of("peek_plugin_tutorial.StringIntTotalTuple"), (tuples) => {
    const values = tuples[0] ? tuples[0].tupleToDict() : { total: 0, rowCount: 0 };
    total.textContent = `Total of int1 over ${values.rowCount} rows: ${values.total}`;
  });
}
