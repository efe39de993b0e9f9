// The plugin upload page: sends the release, then polls its install job until it ends.
import { adminFetch } from "./admin.js";

const POLL_MS = 500;

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
}

/**
 * @typedef {{stage: string, at: number}} Stage
 * @typedef {{id: string, file: string, state: string, finished: boolean, stages: Stage[],
 *   log: string[], error: string | null, plugin: string | null, version: string | null,
 *   enabledOnServer: boolean, url: string}} Job
 */

/**
 * Show a job's stages, pip's output and, once it ended, its result.
 * @param {Job} job
 */
function show(job) {
  byId("upload-progress").hidden = false;
  byId("upload-state").textContent = job.state;
  const stages = byId("upload-stages");
  stages.replaceChildren(...job.stages.map((s) => {
    const item = document.createElement("li");
    item.textContent = s.stage;
    return item;
  }));
  const log = byId("upload-log");
  log.textContent = job.log.join("\n");
  log.scrollTop = log.scrollHeight;
  const result = byId("upload-result");
  const enable = byId("upload-enable");
  if (!job.finished) {
    result.textContent = "";
    enable.hidden = true;
  } else if (job.state === "done") {
    result.className = "ok";
    result.textContent = `Installed ${job.plugin} ${job.version}.` +
      (job.enabledOnServer ? " It was running on the server and has been reloaded."
        : " Enable it on each service that should run it.");
    enable.hidden = job.enabledOnServer;
    enable.dataset.plugin = job.plugin || "";
  } else {
    result.className = "error";
    result.textContent = job.error || "The install failed.";
  }
}

/** @param {string} message */
function fail(message) {
  byId("upload-progress").hidden = false;
  byId("upload-state").textContent = "refused";
  byId("upload-stages").replaceChildren();
  byId("upload-log").textContent = "";
  const result = byId("upload-result");
  result.className = "error";
  result.textContent = message;
}

/** @param {string} url */
async function poll(url) {
  for (;;) {
    const response = await adminFetch(url);
    if (!response.ok) {
      fail(`Lost the install job: HTTP ${response.status}`);
      return;
    }
    /** @type {Job} */
    const job = await response.json();
    show(job);
    if (job.finished) {
      await listInstalled();
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** Fill the table of installed plugins. */
async function listInstalled() {
  const response = await adminFetch("/plugin-upload/installed");
  if (!response.ok) return;
  /** @type {{plugin: string, version: string, serverState: string}[]} */
  const rows = await response.json();
  const body = /** @type {HTMLTableElement} */ (byId("installed-plugins")).tBodies[0];
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    for (const text of [row.plugin, row.version, row.serverState]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  }));
}

const form = /** @type {HTMLFormElement} */ (byId("plugin-upload"));
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ (form.elements.namedItem("file"));
  const file = input.files && input.files[0];
  if (!file) return;
  const limit = Number(form.dataset.maxBytes);
  if (file.size > limit) {
    fail(`${file.name} is ${file.size} bytes; at most ${limit} are accepted.`);
    return;
  }
  const body = new FormData();
  body.append("file", file, file.name);
  const response = await adminFetch("/plugin-upload", { method: "POST", body });
  const answer = await response.json().catch(() => ({ message: `HTTP ${response.status}` }));
  if (response.status !== 202) {
    fail(answer.message || `HTTP ${response.status}`);
    return;
  }
  show(answer);
  await poll(answer.url);
});

byId("upload-enable").addEventListener("click", async () => {
  const enable = byId("upload-enable");
  const plugin = enable.dataset.plugin || "";
  const response = await adminFetch("/plugin-upload/enable", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ plugin }),
  });
  const answer = await response.json().catch(() => ({}));
  byId("upload-result").textContent = response.ok
    ? `${plugin} is enabled and running on the server.`
    : answer.message || `HTTP ${response.status}`;
  enable.hidden = response.ok;
  await listInstalled();
});

listInstalled();
