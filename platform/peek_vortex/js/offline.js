/**
 * @file Working offline (the seed's "offline storage", TupleDataOfflineObserver and
 * TupleActionPushOfflineService): observed data cached per selector in IndexedDB and shown
 * at once on load, marked stale until fresh data arrives; actions pushed while offline
 * queued in IndexedDB (they survive a reload), sent in order once connected, each applied
 * once (the same action id on every attempt), with the queue length and each action's
 * final result observable by the page, also for actions a previous page load queued.
 */

import {selectorKey, tupleFromJsonDict, tupleToJsonDict} from "./codec.js";
import {ConnectionLostError, NotConnectedError, RemoteError, ReplyTimeoutError} from "./client.js";
import {ActionTimeoutError, TupleActionPushService} from "./actions.js";
import {TupleDataObserver} from "./observer.js";

/** @typedef {import("./client.js").VortexClient} VortexClient */
/** @typedef {import("./tuples.js").Tuple} Tuple */
/** @typedef {import("./tuples.js").TupleSelector} TupleSelector */
/** @typedef {import("./tuples.js").TupleActionABC} TupleActionABC */
/** @typedef {import("./observer.js").TuplesListener} TuplesListener */
/** @typedef {import("./observer.js").ErrorListener} ErrorListener */
/** @typedef {import("./codec.js").Envelope} Envelope */

export const DEFAULT_DB_NAME = "peek-vortex-offline";
const DB_VERSION = 1;
const TUPLES = "tuples";
const QUEUE = "actionQueue";
const RESULTS = "actionResults";

/**
 * Error codes of answers that are not final: the action stays queued and is sent again
 * (same id) later. Everything else (success or any other error) is the action's result.
 */
export const TRANSIENT_ERROR_CODES = new Set([
    "ActionOutcomeUnavailableError", "ConnectionLostError", "NoTransportError",
    "ReplyTimeoutError", "NoEndpointError",
]);

/**
 * @template T
 * @param {IDBRequest<T>} request
 * @returns {Promise<T>}
 */
function done(request) {
    return new Promise((resolve, reject) => {
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
    });
}

/** @param {IDBTransaction} tx @returns {Promise<void>} */
function committed(tx) {
    return new Promise((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    });
}

/**
 * A queued action as stored.
 * @typedef {object} QueuedAction
 * @property {number} [seq] queue order (assigned by IndexedDB)
 * @property {string} actionId the action's uuid
 * @property {string} processorName
 * @property {string} actionType
 * @property {Envelope} envelope the encoded request, sent as it is on every attempt
 * @property {number} queuedAt epoch ms
 * @property {number} attempts
 */

/**
 * An action's final result as stored.
 * @typedef {object} ActionResult
 * @property {string} actionId
 * @property {string} processorName
 * @property {Record<string, unknown>[] | null} tuples result tuples as JSON dicts (null on error)
 * @property {[string, string] | null} error ``[code, message]`` when the answer was an error
 * @property {number} answeredAt epoch ms
 */

/** The IndexedDB database of one origin's offline data (shared by every service here). */
export class OfflineStore {
    /** @param {string} [name] */
    constructor(name = DEFAULT_DB_NAME) {
        this.name = name;
        /** @type {Promise<IDBDatabase> | null} */
        this._db = null;
    }

    /** @returns {Promise<IDBDatabase>} */
    db() {
        if (!this._db) {
            this._db = new Promise((resolve, reject) => {
                const request = indexedDB.open(this.name, DB_VERSION);
                request.onupgradeneeded = () => {
                    const db = request.result;
                    if (!db.objectStoreNames.contains(TUPLES)) db.createObjectStore(TUPLES);
                    if (!db.objectStoreNames.contains(QUEUE)) {
                        db.createObjectStore(QUEUE, {keyPath: "seq", autoIncrement: true})
                            .createIndex("actionId", "actionId", {unique: true});
                    }
                    if (!db.objectStoreNames.contains(RESULTS)) {
                        db.createObjectStore(RESULTS, {keyPath: "actionId"})
                            .createIndex("answeredAt", "answeredAt");
                    }
                };
                request.onsuccess = () => resolve(request.result);
                request.onerror = () => reject(request.error);
            });
        }
        return this._db;
    }

    /**
     * The cached tuples of one observable's selector, or null.
     * @param {string} cacheKey
     * @returns {Promise<Tuple[] | null>}
     */
    async loadTuples(cacheKey) {
        const db = await this.db();
        const entry = await done(db.transaction(TUPLES).objectStore(TUPLES).get(cacheKey));
        if (!entry) return null;
        return entry.tuples.map((/** @type {Record<string, unknown>} */ d) => tupleFromJsonDict(d));
    }

    /**
     * Replace the cached tuples of one observable's selector.
     * @param {string} cacheKey
     * @param {Tuple[]} tuples
     */
    async storeTuples(cacheKey, tuples) {
        const db = await this.db();
        const tx = db.transaction(TUPLES, "readwrite");
        tx.objectStore(TUPLES).put({tuples: tuples.map(tupleToJsonDict), storedAt: Date.now()}, cacheKey);
        await committed(tx);
    }

    /** @param {QueuedAction} entry */
    async enqueue(entry) {
        const db = await this.db();
        const tx = db.transaction(QUEUE, "readwrite");
        tx.objectStore(QUEUE).add(entry);
        await committed(tx);
    }

    /**
     * The queued actions, oldest first (optionally of one processor).
     * @param {string} [processorName]
     * @returns {Promise<QueuedAction[]>}
     */
    async queued(processorName) {
        const db = await this.db();
        /** @type {QueuedAction[]} */
        const all = await done(db.transaction(QUEUE).objectStore(QUEUE).getAll());
        return processorName === undefined ? all : all.filter((q) => q.processorName === processorName);
    }

    /** Record an answer and take its action off the queue, in one transaction. @param {ActionResult} result */
    async settle(result) {
        const db = await this.db();
        const tx = db.transaction([QUEUE, RESULTS], "readwrite");
        const queue = tx.objectStore(QUEUE);
        const seq = await done(queue.index("actionId").getKey(result.actionId));
        if (seq !== undefined) queue.delete(seq);
        tx.objectStore(RESULTS).put(result);
        await committed(tx);
    }

    /** @param {string} actionId */
    async discard(actionId) {
        const db = await this.db();
        const tx = db.transaction(QUEUE, "readwrite");
        const queue = tx.objectStore(QUEUE);
        const seq = await done(queue.index("actionId").getKey(actionId));
        if (seq !== undefined) queue.delete(seq);
        await committed(tx);
        return seq !== undefined;
    }

    /** @param {QueuedAction} entry */
    async updateQueued(entry) {
        const db = await this.db();
        const tx = db.transaction(QUEUE, "readwrite");
        tx.objectStore(QUEUE).put(entry);
        await committed(tx);
    }

    /**
     * @param {string} actionId
     * @returns {Promise<ActionResult | undefined>}
     */
    async result(actionId) {
        const db = await this.db();
        return done(db.transaction(RESULTS).objectStore(RESULTS).get(actionId));
    }

    /** Forget results answered before ``before`` (epoch ms). @param {number} before */
    async pruneResults(before) {
        const db = await this.db();
        const tx = db.transaction(RESULTS, "readwrite");
        const index = tx.objectStore(RESULTS).index("answeredAt");
        const request = index.openCursor(IDBKeyRange.upperBound(before, true));
        request.onsuccess = () => {
            const cursor = request.result;
            if (cursor) {
                cursor.delete();
                cursor.continue();
            }
        };
        await committed(tx);
    }

    /** Close the database (tests, or a page that is done with it). */
    async close() {
        if (this._db) (await this._db).close();
        this._db = null;
    }
}

/** The store used when none is given. */
export const defaultOfflineStore = new OfflineStore();

/**
 * A {@link TupleDataObserver} that also keeps each selector's latest data in IndexedDB:
 * a new subscription gets the cached data at once (``info.stale`` true), even with no
 * connection, then the fresh data when it arrives (``stale`` false), which is cached.
 */
export class TupleDataOfflineObserver {
    /**
     * @param {VortexClient} client
     * @param {string} observableName
     * @param {{additionalFilt?: Record<string, unknown>, destVortexName?: string,
     *          store?: OfflineStore}} [options]
     */
    constructor(client, observableName, options = {}) {
        this.observer = new TupleDataObserver(client, observableName, options);
        this.store = options.store ?? defaultOfflineStore;
        this.observableName = observableName;
        this._cachePrefix = `${observableName}|${JSON.stringify(options.additionalFilt || {})}|`;
    }

    /**
     * Like {@link TupleDataObserver.subscribe}, with cached data first (marked stale).
     * @param {TupleSelector} selector
     * @param {TuplesListener} onTuples
     * @param {ErrorListener} [onError]
     */
    subscribe(selector, onTuples, onError) {
        const cacheKey = this._cachePrefix + selectorKey(selector);
        let fresh = false;
        const sub = this.observer.subscribe(selector, (tuples, info) => {
            fresh = true;
            this.store.storeTuples(cacheKey, tuples)
                .catch((e) => console.warn("vortex: could not cache", cacheKey, e));
            onTuples(tuples, info);
        }, onError);
        this.store.loadTuples(cacheKey).then((cached) => {
            if (cached && !fresh && sub.active) {
                sub.tuples = cached;
                sub.stale = true;
                onTuples(cached, {stale: true, selector});
            }
        }, (e) => console.warn("vortex: could not read the cache of", cacheKey, e));
        return sub;
    }

    /** Stop observing everything. */
    shutdown() {
        this.observer.shutdown();
    }
}

/**
 * Pushes actions through a queue in IndexedDB. {@link pushAction} stores the encoded action
 * and resolves with its result once it is finally answered; the queue is sent in order,
 * one action at a time, whenever the connection is open. Events (``CustomEvent``):
 *
 * - ``queuelength``: ``detail = {length}`` whenever the number of queued actions changes;
 * - ``actionresult``: ``detail = {actionId, tuples, error}`` when a queued action is answered
 *   (``tuples`` the result tuples, or ``error`` a RemoteError), including actions a
 *   previous page load queued.
 *
 * An answer whose error code is in {@link TRANSIENT_ERROR_CODES} leaves the action queued.
 */
export class TupleActionPushOfflineService extends EventTarget {
    /**
     * @param {VortexClient} client
     * @param {string} processorName
     * @param {{additionalFilt?: Record<string, unknown>, destVortexName?: string,
     *          timeoutSeconds?: number, retryDelaySeconds?: number, store?: OfflineStore,
     *          resultsKeptDays?: number}} [options]
     */
    constructor(client, processorName, options = {}) {
        super();
        this.client = client;
        this.processorName = processorName;
        this.push = new TupleActionPushService(client, processorName, {
            additionalFilt: options.additionalFilt, destVortexName: options.destVortexName,
            timeoutSeconds: options.timeoutSeconds ?? 30, retries: 0,
        });
        this.store = options.store ?? defaultOfflineStore;
        this.retryDelaySeconds = options.retryDelaySeconds ?? 5;
        this.queueLength = 0;
        /** @type {Map<string, {resolve: (t: Tuple[]) => void, reject: (e: Error) => void}[]>} */
        this._waiters = new Map();
        this._draining = false;
        this._drainAgain = false;
        /** @type {ReturnType<typeof setTimeout> | null} */
        this._retryTimer = null;
        this._onOpen = () => this.drain();
        client.addEventListener("open", this._onOpen);
        const keptDays = options.resultsKeptDays ?? 7;
        this.ready = this.store.pruneResults(Date.now() - keptDays * 86400e3)
            .catch((e) => console.warn("vortex: could not prune old action results", e))
            .then(() => this._refreshLength())
            .then(() => this.drain());
    }

    /**
     * Queue ``action`` (stored before this resolves its first step) and resolve with its
     * result tuples once answered; rejects with the RemoteError it was answered with.
     * @param {TupleActionABC} action
     * @returns {Promise<Tuple[]>}
     */
    async pushAction(action) {
        const envelope = await this.push.encode(action);
        await this.store.enqueue({
            actionId: action.uuid, processorName: this.processorName, actionType: action.tupleType(),
            envelope, queuedAt: Date.now(), attempts: 0,
        });
        const answered = this.result(action.uuid);
        await this._refreshLength();
        this.drain();
        return answered;
    }

    /**
     * The result of an action queued here (now or by an earlier page load): resolves with
     * its tuples once answered (at once if it already was), rejects with its RemoteError.
     * @param {string} actionId
     * @returns {Promise<Tuple[]>}
     */
    result(actionId) {
        return new Promise((resolve, reject) => {
            const waiters = this._waiters.get(actionId) || [];
            waiters.push({resolve, reject});
            this._waiters.set(actionId, waiters);
            this.store.result(actionId).then((stored) => {
                if (stored) this._answer(stored, false);
            }, reject);
        });
    }

    /** The queued actions of this processor, oldest first. */
    queued() {
        return this.store.queued(this.processorName);
    }

    /**
     * Take an action off the queue unsent (one the server keeps refusing as transient).
     * @param {string} actionId
     */
    async discard(actionId) {
        const removed = await this.store.discard(actionId);
        await this._refreshLength();
        return removed;
    }

    /** Send the queue now if connected (called on every open and after every push). */
    drain() {
        if (this._draining) {
            this._drainAgain = true;
            return;
        }
        if (!this.client.isOpen) return;
        this._draining = true;
        const run = () => this._drainQueue().finally(() => {
            this._draining = false;
            if (this._drainAgain) {
                this._drainAgain = false;
                this.drain();
            }
        });
        // Several tabs of one app share the queue: one sends it at a time.
        const locks = globalThis.navigator?.locks;
        if (locks) {
            locks.request(`${this.store.name}:${this.processorName}`, run)
                .catch((/** @type {unknown} */ e) => console.error("vortex: drain failed:", e));
        } else {
            run().catch((e) => console.error("vortex: drain failed:", e));
        }
    }

    /** Stop listening to the connection (queued actions stay stored). */
    shutdown() {
        this.client.removeEventListener("open", this._onOpen);
        if (this._retryTimer !== null) clearTimeout(this._retryTimer);
    }

    // ---- internals

    async _refreshLength() {
        const length = (await this.store.queued(this.processorName)).length;
        if (length !== this.queueLength) {
            this.queueLength = length;
            this.dispatchEvent(new CustomEvent("queuelength", {detail: {length}}));
        }
    }

    async _drainQueue() {
        for (;;) {
            if (!this.client.isOpen) return;
            const [head] = await this.store.queued(this.processorName);
            if (!head) return;
            // A result may exist already (another tab got the answer just before us).
            const known = await this.store.result(head.actionId);
            if (known) {
                await this.store.settle(known);
                await this._refreshLength();
                this._answer(known, true);
                continue;
            }
            head.attempts += 1;
            await this.store.updateQueued(head);
            /** @type {ActionResult} */
            let result;
            try {
                const tuples = await this.push.sendEncoded(head.envelope, head.actionId, {retries: 0});
                result = this._result(head, tuples.map(tupleToJsonDict), null);
            } catch (e) {
                const code = e instanceof RemoteError ? e.code : null;
                if (code === null || TRANSIENT_ERROR_CODES.has(code)) {
                    const known = e instanceof ConnectionLostError || e instanceof NotConnectedError ||
                        e instanceof ActionTimeoutError || e instanceof ReplyTimeoutError || code !== null;
                    if (!known) console.error("vortex: sending queued action", head.actionId, "failed:", e);
                    this._retryLater();
                    return;
                }
                const remote = /** @type {RemoteError} */ (e);
                result = this._result(head, null, [remote.code, remote.remoteMessage]);
            }
            await this.store.settle(result);
            await this._refreshLength();
            this._answer(result, true);
        }
    }

    _retryLater() {
        if (this._retryTimer !== null) return;
        this._retryTimer = setTimeout(() => {
            this._retryTimer = null;
            this.drain();
        }, this.retryDelaySeconds * 1000);
    }

    /**
     * @param {QueuedAction} head
     * @param {Record<string, unknown>[] | null} tuples
     * @param {[string, string] | null} error
     * @returns {ActionResult}
     */
    _result(head, tuples, error) {
        return {actionId: head.actionId, processorName: head.processorName, tuples, error,
            answeredAt: Date.now()};
    }

    /** @param {ActionResult} result @param {boolean} announce */
    _answer(result, announce) {
        const error = result.error ? new RemoteError(result.error[0], result.error[1]) : null;
        const tuples = result.tuples ? result.tuples.map((d) => tupleFromJsonDict(d)) : null;
        if (announce) {
            this.dispatchEvent(new CustomEvent("actionresult",
                {detail: {actionId: result.actionId, tuples, error}}));
        }
        const waiters = this._waiters.get(result.actionId);
        if (!waiters) return;
        this._waiters.delete(result.actionId);
        for (const waiter of waiters) {
            if (error) waiter.reject(error);
            else waiter.resolve(/** @type {Tuple[]} */ (tuples));
        }
    }
}
