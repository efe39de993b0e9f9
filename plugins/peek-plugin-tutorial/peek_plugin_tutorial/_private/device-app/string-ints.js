/**
 * @file ``<tutorial-string-ints>``: the StringInt table live, its total, and buttons that
 * push the tutorial's actions. Works offline: the rows and total come from the offline
 * observer's cache at once (marked "saved data" until fresh data arrives), and actions
 * pushed with no connection wait in the offline queue and are sent when it returns.
 *
 * A plain custom element (light DOM, the shell's CSS classes); ``layout`` is "cards"
 * (phones) or "table" (desktops).
 */

import {
  TupleActionPushOfflineService, TupleDataOfflineObserver, TupleSelector,
} from "/peek/vortex.js";
import {
  AddIntValueActionTuple, StringCapToggleActionTuple, StringIntTotalTuple, StringIntTuple,
  tutorialActionProcessorName, tutorialFilt, tutorialObservableName,
} from "./tuples.js";

/**
 * An element with attributes and text (data is set as text, never parsed as HTML).
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {string} [text]
 * @returns {HTMLElement}
 */
function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

export class TutorialStringInts extends HTMLElement {
  constructor() {
    super();
    /** "cards" or "table". */
    this.layout = "cards";
    /** @type {StringIntTuple[]} */
    this.rows = [];
    /** @type {StringIntTotalTuple | null} */
    this.total = null;
    this.rowsStale = true;
    /** @type {TupleDataOfflineObserver | null} */
    this.observer = null;
    /** @type {TupleActionPushOfflineService | null} */
    this.actions = null;
    /** @type {(() => void)[]} */
    this._cleanups = [];
  }

  /**
   * Observe and push through the shell's bus connection.
   * @param {{bus: any}} app the shell's app context
   */
  start(app) {
    const options = { additionalFilt: tutorialFilt };
    this.observer = new TupleDataOfflineObserver(app.bus, tutorialObservableName, options);
    this.actions = new TupleActionPushOfflineService(
      app.bus, tutorialActionProcessorName, options);
    this._build();
    const rows = this.observer.subscribe(
      TupleSelector.of(StringIntTuple.tupleType), (tuples, info) => {
        this.rows = /** @type {StringIntTuple[]} */ (tuples);
        this.rowsStale = Boolean(info && info.stale);
        this._renderRows();
      }, (error) => this._message(`Cannot load the rows: ${error.message}`));
    const total = this.observer.subscribe(
      TupleSelector.of(StringIntTotalTuple.tupleType), (tuples) => {
        this.total = /** @type {StringIntTotalTuple} */ (tuples[0] ?? null);
        this._renderTotal();
      }, (error) => this._message(`Cannot load the total: ${error.message}`));
    /** @param {Event} event */
    const onLength = (event) => this._renderQueue(
      /** @type {CustomEvent} */ (event).detail.length);
    /** @param {Event} event */
    const onResult = (event) => {
      const { error } = /** @type {CustomEvent} */ (event).detail;
      if (error) this._message(`An action was refused: ${error.message}`);
    };
    this.actions.addEventListener("queuelength", onLength);
    this.actions.addEventListener("actionresult", onResult);
    this._renderQueue(this.actions.queueLength);
    this._cleanups.push(() => {
      rows.unsubscribe();
      total.unsubscribe();
      this.actions?.removeEventListener("queuelength", onLength);
      this.actions?.removeEventListener("actionresult", onResult);
      this.actions?.shutdown();
      this.observer?.shutdown();
    });
  }

  /** Stop observing (queued actions stay stored and are sent by the next page). */
  stop() {
    for (const cleanup of this._cleanups.splice(0)) cleanup();
  }

  disconnectedCallback() {
    this.stop();
  }

  /**
   * Push an action; its answer arrives later when it was queued offline.
   * @param {AddIntValueActionTuple | StringCapToggleActionTuple} action
   */
  push(action) {
    if (!this.actions) return;
    this.actions.pushAction(action).catch(
      (/** @type {Error} */ error) => this._message(`Action failed: ${error.message}`));
  }

  _build() {
    const head = el("div", { class: "peek-card tutorial-head" });
    head.append(
      el("h1", {}, "String Ints"),
      el("p", { class: "peek-muted" },
        "Live from the server through the client service. Buttons push actions; an admin "
        + "edit shows up here without reloading."),
    );
    const status = el("p", { class: "tutorial-status" });
    status.append(
      el("span", { class: "peek-badge", id: "tutorial-total" }, "Total: …"), " ",
      el("span", { class: "peek-badge warn", id: "tutorial-stale", hidden: "" },
        "saved data"), " ",
      el("span", { class: "peek-badge", id: "tutorial-queue", "data-length": "0" },
        "0 queued"),
    );
    head.append(status, el("p", { class: "peek-error", id: "tutorial-message",
                                  role: "status" }));
    this.body = el("div", { id: "tutorial-rows" });
    this.replaceChildren(head, this.body);
  }

  /** @param {string} text */
  _message(text) {
    const node = this.querySelector("#tutorial-message");
    if (node) node.textContent = text;
  }

  /** @param {number} length */
  _renderQueue(length) {
    const node = this.querySelector("#tutorial-queue");
    if (!node) return;
    node.setAttribute("data-length", String(length));
    node.textContent = `${length} queued`;
    node.classList.toggle("warn", length > 0);
  }

  _renderTotal() {
    const node = this.querySelector("#tutorial-total");
    if (!node || !this.total) return;
    node.setAttribute("data-total", String(this.total.total));
    node.textContent = `Total (worker): ${this.total.total} over ${this.total.rowCount} rows`;
  }

  /**
   * The action buttons of one row.
   * @param {StringIntTuple} row
   * @returns {HTMLElement}
   */
  _buttons(row) {
    const box = el("span", { class: "tutorial-buttons" });
    /** @type {[string, string, () => AddIntValueActionTuple | StringCapToggleActionTuple][]} */
    const specs = [
      ["add", "+1", () => AddIntValueActionTuple.create({ stringIntId: row.id, offset: 1 })],
      ["subtract", "\u22121",
        () => AddIntValueActionTuple.create({ stringIntId: row.id, offset: -1 })],
      ["toggle", "Aa", () => StringCapToggleActionTuple.create({ stringIntId: row.id })],
    ];
    for (const [action, label, make] of specs) {
      const button = el("button", { class: "peek-button secondary", type: "button",
                                    "data-action": action,
                                    "aria-label": `${action} ${row.string1 ?? ""}` }, label);
      button.addEventListener("click", () => this.push(make()));
      box.append(button, " ");
    }
    return box;
  }

  _renderRows() {
    const stale = /** @type {HTMLElement | null} */ (this.querySelector("#tutorial-stale"));
    if (stale) stale.hidden = !this.rowsStale;
    this.dataset.stale = String(this.rowsStale);
    if (!this.body) return;
    if (!this.rows.length) {
      this.body.replaceChildren(el("p", { class: "peek-muted" }, "No rows yet."));
      return;
    }
    if (this.layout === "table") {
      const table = /** @type {HTMLTableElement} */ (el("table", { class: "peek-table" }));
      const head = el("tr");
      for (const title of ["Id", "String", "Int", "Actions"]) head.append(el("th", {}, title));
      table.append(el("thead"), el("tbody"));
      table.tHead?.append(head);
      for (const row of this.rows) {
        const tr = el("tr", { "data-row": String(row.id) });
        tr.append(el("td", {}, String(row.id)),
          el("td", { class: "t-string1" }, row.string1 ?? ""),
          el("td", { class: "t-int1" }, String(row.int1 ?? "")));
        const actions = el("td");
        actions.append(this._buttons(row));
        tr.append(actions);
        table.tBodies[0].append(tr);
      }
      this.body.replaceChildren(table);
    } else {
      const list = el("ul", { class: "peek-list" });
      for (const row of this.rows) {
        const li = el("li", { "data-row": String(row.id) });
        const line = el("div", { class: "tutorial-line" });
        line.append(el("strong", { class: "t-string1" }, row.string1 ?? ""), " ",
          el("span", { class: "peek-badge t-int1" }, String(row.int1 ?? "")));
        li.append(line, this._buttons(row));
        list.append(li);
      }
      this.body.replaceChildren(list);
    }
  }
}

if (!customElements.get("tutorial-string-ints")) {
  customElements.define("tutorial-string-ints", TutorialStringInts);
}

/**
 * Mount the page in ``root`` with the given layout; returns its cleanup.
 * @param {HTMLElement} root
 * @param {{bus: any}} app
 * @param {"cards" | "table"} layout
 */
export function mountStringInts(root, app, layout) {
  const view = /** @type {TutorialStringInts} */ (document.createElement("tutorial-string-ints"));
  view.layout = layout;
  root.append(view);
  view.start(app);
  return () => view.stop();
}
