/**
 * @file The admin pages' bus: one ``peek-admin`` connection to the admin site's
 * ``/vortexws``, the platform state's tuple types, its observable and RPCs, and the
 * session end (close 4401, or a 401 on the next request) that sends the user to /login.
 *
 * The tuple classes mirror ``peek_platform.admin_state.tuples`` field for field.
 */

import {
  addTupleType, RemoteError, Tuple, TupleDataObserver, tupleInfoForName, TupleSelector,
  VortexClient, VortexRpc,
} from "/peek/vortex.js";
import { adminFetch } from "./admin.js";

/** The close code the admin site uses when the session behind a socket ended. */
export const SESSION_ENDED = 4401;
export const ADMIN_OBSERVABLE = "peek_platform_admin";
export const ADMIN_FILT = { plugin: "peek_platform_admin" };
export const SERVER_NAME = "peek-server";
const P = "peek_platform_admin.";
const RPC = "peek_platform.admin_state.rpc.AdminRpc.";

/** One plugin on one service. */
export class PluginStateTuple extends Tuple {
  static tupleType = P + "PluginStateTuple";
  /** @type {string | null} */ name = null;
  /** @type {string | null} */ title = null;
  /** @type {string | null} */ version = null;
  /** @type {string | null} */ state = null;
  /** @type {boolean} */ enabled = true;
  /** @type {string | null} */ reason = null;
  /** @type {string | null} */ traceback = null;
  /** @type {number | null} */ loadSeconds = null;
  /** @type {number | null} */ startSeconds = null;
  /** @type {[string, string][]} */ history = [];
}
addTupleType(PluginStateTuple);

/** A device on a client service. */
export class DeviceTuple extends Tuple {
  static tupleType = P + "DeviceTuple";
  /** @type {string | null} */ vortexName = null;
  /** @type {string | null} */ vortexUuid = null;
  /** @type {string | null} */ address = null;
}
addTupleType(DeviceTuple);

/** One service process as the server last heard of it. */
export class ServiceStateTuple extends Tuple {
  static tupleType = P + "ServiceStateTuple";
  /** @type {string} */ serviceId = "";
  /** @type {string} */ service = "";
  /** @type {string | null} */ host = null;
  /** @type {number | null} */ pid = null;
  /** @type {string | null} */ home = null;
  /** @type {string | null} */ version = null;
  /** @type {Date | string | null} */ startedAt = null;
  /** @type {number | null} */ uptimeSeconds = null;
  /** @type {number | null} */ rssBytes = null;
  /** @type {boolean} */ live = true;
  /** @type {Date | string | null} */ lastReportAt = null;
  /** @type {Date | string | null} */ goneAt = null;
  /** @type {string | null} */ vortexName = null;
  /** @type {string | null} */ vortexUuid = null;
  /** @type {string | null} */ busPeer = null;
  /** @type {PluginStateTuple[]} */ plugins = [];
  /** @type {PluginStateTuple[]} */ installedNotEnabled = [];
  /** @type {number} */ deviceCount = 0;
  /** @type {DeviceTuple[]} */ devices = [];
  /** @type {Record<string, unknown>} */ config = {};
}
addTupleType(ServiceStateTuple);

/** One line of a service's log. */
export class LogLineTuple extends Tuple {
  static tupleType = P + "LogLineTuple";
  /** @type {string | null} */ serviceId = null;
  /** @type {number} */ seq = 0;
  /** @type {Date | string | null} */ time = null;
  /** @type {string} */ level = "";
  /** @type {string | null} */ logger = null;
  /** @type {string | null} */ plugin = null;
  /** @type {string} */ message = "";
}
addTupleType(LogLineTuple);

/** What one service did with a control command. */
export class PluginControlResultTuple extends Tuple {
  static tupleType = P + "PluginControlResultTuple";
  /** @type {string | null} */ serviceId = null;
  /** @type {string | null} */ pluginName = null;
  /** @type {string | null} */ operation = null;
  /** @type {boolean} */ ok = false;
  /** @type {string | null} */ state = null;
  /** @type {string | null} */ error = null;
}
addTupleType(PluginControlResultTuple);

/** One setting of a server plugin. */
export class PluginSettingTuple extends Tuple {
  static tupleType = P + "PluginSettingTuple";
  /** @type {string | null} */ pluginName = null;
  /** @type {string} */ key = "";
  /** @type {unknown} */ value = null;
  /** @type {string} */ type = "str";
  /** @type {unknown} */ defaultValue = null;
}
addTupleType(PluginSettingTuple);

/** A tuple-loader page a server plugin declares. */
export class TupleLoaderTuple extends Tuple {
  static tupleType = P + "TupleLoaderTuple";
  /** @type {string | null} */ pluginName = null;
  /** @type {string | null} */ title = null;
  // The Python field's name shadows Tuple's tupleType() on these instances only; the codec
  // looks types up by class, and nothing calls tupleType() on a loader description.
  // @ts-ignore
  /** @type {string} */ tupleType = "";
  /** @type {Record<string, unknown>} */ filt = {};
  /** @type {string[]} */ fields = [];
}
addTupleType(/** @type {typeof Tuple} */ (/** @type {unknown} */ (TupleLoaderTuple)));

/**
 * The tuple class registered as ``name``; when none is, declare one with ``fields`` (all
 * ``null`` by default). Pages that edit a plugin's rows use it for types they do not ship.
 * @param {string} name
 * @param {string[]} fields
 * @returns {typeof Tuple}
 */
export function tupleClass(name, fields) {
  const known = tupleInfoForName(name);
  if (known) return /** @type {typeof Tuple} */ (/** @type {unknown} */ (known.cls));
  const cls = class extends Tuple {
    static tupleType = name;
    constructor() {
      super();
      const self = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (this));
      for (const field of fields) self[field] = null;
    }
  };
  addTupleType(cls);
  return cls;
}

/** Where the session ended: leave for the login page (once), coming back here after. */
export function toLogin() {
  const next = window.location.pathname + window.location.search;
  window.location.assign(`/login?next=${encodeURIComponent(next)}`);
}

/** @type {VortexClient | null} */
let shared = null;
/** @type {TupleDataObserver | null} */
let sharedObserver = null;

/**
 * The page's one admin bus connection (opened on first use). Its state shows in the
 * header's ``#bus-state``; a close with 4401, or a refused reconnect whose probe answers
 * 401, means the session ended.
 * @returns {VortexClient}
 */
export function adminClient() {
  if (shared) return shared;
  const client = new VortexClient({ name: "peek-admin", heartbeatSeconds: 5,
    heartbeatTimeoutSeconds: 10, reconnectMaxSeconds: 5 });
  client.addEventListener("statechange", (event) => {
    const badge = document.getElementById("bus-state");
    const state = /** @type {CustomEvent} */ (event).detail.state;
    if (badge) {
      badge.textContent = state === "open" ? "live" : state;
      badge.dataset.state = state;
    }
  });
  client.addEventListener("close", (event) => {
    const code = /** @type {CustomEvent} */ (event).detail.code;
    if (code === SESSION_ENDED) {
      client.close();
      toLogin();
      return;
    }
    // A websocket refused at the upgrade (401) shows only as 1006: ask over HTTP, where
    // adminFetch sends a 401 to the login page.
    adminFetch("/admin-ui/admin.js", { method: "HEAD" }).catch(() => undefined);
  });
  shared = client.connect();
  return client;
}

/** The observer of the platform state (``peek_platform_admin`` on the server). */
export function adminObserver() {
  if (!sharedObserver) {
    sharedObserver = new TupleDataObserver(adminClient(), ADMIN_OBSERVABLE,
      { additionalFilt: ADMIN_FILT, destVortexName: SERVER_NAME });
  }
  return sharedObserver;
}

/**
 * Watch ``tupleName`` with ``selector`` on the platform state; ``onTuples`` gets the
 * current tuples and then every update.
 * ``onTuples`` is called with the tuples as the watched type (``any`` here so each page
 * names its own tuple class in its listener).
 * @param {string} tupleName
 * @param {Record<string, unknown>} selector
 * @param {(tuples: any[]) => void} onTuples
 * @param {(error: RemoteError) => void} [onError]
 */
export function watch(tupleName, selector, onTuples, onError) {
  return adminObserver().subscribe(TupleSelector.of(tupleName, selector),
    (tuples) => onTuples(tuples), onError);
}

/**
 * ``AdminRpc.controlPlugin``: enable, disable or reload ``pluginName`` on one service
 * (``serviceId``) or on every live one (``"*"``).
 * @param {string} serviceId
 * @param {string} pluginName
 * @param {string} operation
 * @returns {Promise<PluginControlResultTuple[]>}
 */
export async function controlPlugin(serviceId, pluginName, operation) {
  const rpc = new VortexRpc(adminClient(), RPC + "controlPlugin",
    { additionalFilt: ADMIN_FILT, destVortexName: SERVER_NAME, timeoutSeconds: 160 });
  return /** @type {PluginControlResultTuple[]} */ (await rpc.call(serviceId, pluginName, operation));
}

/**
 * ``AdminRpc.updateSetting``: set one of a server plugin's settings; the stored value.
 * @param {string} pluginName
 * @param {string} key
 * @param {unknown} value
 */
export async function updateSetting(pluginName, key, value) {
  const rpc = new VortexRpc(adminClient(), RPC + "updateSetting",
    { additionalFilt: ADMIN_FILT, destVortexName: SERVER_NAME });
  return rpc.call(pluginName, key, value);
}

/**
 * One request to a plugin's OrmCrudHandler (the seed's TupleLoader) on the server:
 * ``tuples`` empty loads, rows save (insert or update), ``extra.delete`` deletes.
 * @param {Record<string, unknown>} filt the loader's filt
 * @param {Tuple[]} tuples
 * @param {Record<string, unknown>} [extra]
 * @returns {Promise<Tuple[]>}
 */
export async function tupleLoader(filt, tuples, extra = {}) {
  const reply = await adminClient().request(
    { filt: { ...extra, ...filt }, destVortexName: SERVER_NAME, tuples });
  return reply.tuples();
}

/** A short text for an error from the bus (a remote error's message, else its text). @param {unknown} error */
export function errorText(error) {
  if (error instanceof RemoteError) return `${error.code}: ${error.remoteMessage}`;
  return error instanceof Error ? error.message : String(error);
}
