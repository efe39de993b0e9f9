/**
 * @file Observing data the client service exposes (the seed's TupleDataObserverService;
 * the JavaScript side of ``peek_vortex.handlers``).
 */

import {selectorKey} from "./codec.js";
import {RemoteError} from "./client.js";

/** @typedef {import("./client.js").VortexClient} VortexClient */
/** @typedef {import("./client.js").Received} Received */
/** @typedef {import("./tuples.js").Tuple} Tuple */
/** @typedef {import("./tuples.js").TupleSelector} TupleSelector */

export const OBSERVABLE_KEY = "tupleDataObservable";
/** An update of the held epoch more than this many versions ahead triggers a poll instead. */
export const VERSION_JUMP_LIMIT = 2 ** 20;

/**
 * What a listener learns with each list of tuples.
 * @typedef {object} TuplesInfo
 * @property {boolean} stale true for data from the offline cache, until fresh data arrives
 * @property {TupleSelector} selector
 */

/** @typedef {(tuples: Tuple[], info: TuplesInfo) => void} TuplesListener */
/** @typedef {(error: RemoteError) => void} ErrorListener */

/** One local subscription to a selector; {@link unsubscribe} ends it. */
export class Subscription {
    /**
     * @param {TupleDataObserver} observer
     * @param {TupleSelector} selector
     * @param {TuplesListener} onTuples
     * @param {ErrorListener | undefined} onError
     */
    constructor(observer, selector, onTuples, onError) {
        this.observer = observer;
        this.selector = selector;
        this.key = selectorKey(selector);
        /** The latest tuples delivered (null until the first). @type {Tuple[] | null} */
        this.tuples = null;
        this.stale = false;
        this.active = true;
        this._onTuples = onTuples;
        this._onError = onError;
    }

    /** @param {Tuple[]} tuples @param {boolean} stale */
    _deliver(tuples, stale) {
        this.tuples = tuples;
        this.stale = stale;
        try {
            this._onTuples(tuples, {stale, selector: this.selector});
        } catch (e) {
            console.error("vortex: observer listener failed:", e);
        }
    }

    /** @param {RemoteError} error */
    _deliverError(error) {
        if (!this._onError) return;
        try {
            this._onError(error);
        } catch (e) {
            console.error("vortex: observer error listener failed:", e);
        }
    }

    /** End this subscription (safe to call more than once). */
    unsubscribe() {
        if (!this.active) return;
        this.active = false;
        this.observer._remove(this);
    }
}

/** What the observer holds of one selector. */
class Watched {
    /** @param {TupleSelector} selector */
    constructor(selector) {
        this.selector = selector;
        /** @type {Subscription[]} */
        this.subscriptions = [];
        /** @type {string | null} */
        this.epoch = null;
        this.version = 0;
        /** @type {Tuple[] | null} */
        this.tuples = null;
        this.resyncing = false;
    }
}

/**
 * Observes ``observableName`` through the client service (``peek-client``), where a
 * plugin's observable proxy answers. Subscriptions to one selector share one remote
 * subscription; the first data is the current data, then every update in order. Updates
 * not newer than the data held (by epoch and version) are dropped. When the connection
 * opens again every watched selector is subscribed again.
 */
export class TupleDataObserver {
    /**
     * @param {VortexClient} client
     * @param {string} observableName
     * @param {{additionalFilt?: Record<string, unknown>, destVortexName?: string}} [options]
     */
    constructor(client, observableName, options = {}) {
        this.client = client;
        this.observableName = observableName;
        this.destVortexName = options.destVortexName ?? "peek-client";
        /** @type {Record<string, unknown>} */
        this.baseFilt = {key: OBSERVABLE_KEY, name: observableName, ...(options.additionalFilt || {})};
        /** @type {Map<string, Watched>} */
        this._watched = new Map();
        this._removers = [
            client.addEndpoint({...this.baseFilt, op: "update"}, (m) => this._onUpdate(m)),
            client.addEndpoint({...this.baseFilt, op: "error"}, (m) => this._onError(m)),
        ];
        this._onOpen = () => {
            for (const key of this._watched.keys()) this._sendOp("subscribe", key);
        };
        client.addEventListener("open", this._onOpen);
    }

    /**
     * Start observing ``selector``: ``onTuples(tuples, info)`` gets the current data, then
     * every update. ``onError`` gets the observable's error reports (data is kept).
     * @param {TupleSelector} selector
     * @param {TuplesListener} onTuples
     * @param {ErrorListener} [onError]
     * @returns {Subscription}
     */
    subscribe(selector, onTuples, onError) {
        const sub = new Subscription(this, selector, onTuples, onError);
        let watched = this._watched.get(sub.key);
        if (!watched) {
            watched = new Watched(selector);
            this._watched.set(sub.key, watched);
            watched.subscriptions.push(sub);
            this._sendOp("subscribe", sub.key);
        } else {
            watched.subscriptions.push(sub);
            if (watched.tuples) sub._deliver(watched.tuples, false);
        }
        return sub;
    }

    /**
     * The selector's current tuples, once.
     * @param {TupleSelector} selector
     * @param {{timeoutSeconds?: number}} [options]
     * @returns {Promise<Tuple[]>}
     */
    async poll(selector, options = {}) {
        const reply = await this.client.request({
            filt: this._filt("poll", selectorKey(selector)),
            destVortexName: this.destVortexName,
        }, options);
        return reply.tuples();
    }

    /** How many selectors are watched. */
    get watchedCount() {
        return this._watched.size;
    }

    /** Stop observing everything. */
    shutdown() {
        for (const remove of this._removers) remove();
        this.client.removeEventListener("open", this._onOpen);
        for (const key of this._watched.keys()) this._sendOp("unsubscribe", key);
        this._watched.clear();
    }

    // ---- internals

    /** @param {string} op @param {string} key */
    _filt(op, key) {
        return {...this.baseFilt, op, tupleSelector: key};
    }

    /** @param {string} op @param {string} key */
    _sendOp(op, key) {
        if (!this.client.isOpen) return; // the next open subscribes again
        this.client.send({filt: this._filt(op, key), destVortexName: this.destVortexName})
            .catch((e) => console.debug("vortex: observer send failed:", e));
    }

    /** @param {Subscription} sub */
    _remove(sub) {
        const watched = this._watched.get(sub.key);
        if (!watched) return;
        watched.subscriptions = watched.subscriptions.filter((s) => s !== sub);
        if (!watched.subscriptions.length) {
            this._watched.delete(sub.key);
            this._sendOp("unsubscribe", sub.key);
        }
    }

    /** @param {Received} message */
    async _onUpdate(message) {
        const filt = message.envelope.filt;
        const key = filt.tupleSelector;
        const watched = typeof key === "string" ? this._watched.get(key) : undefined;
        if (!watched) return;
        const epoch = filt.epoch;
        const version = filt.version;
        if (typeof epoch !== "string" || !Number.isInteger(version)) return;
        const v = /** @type {number} */ (version);
        if (epoch === watched.epoch && v <= watched.version) return;
        if (epoch === watched.epoch && v - watched.version > VERSION_JUMP_LIMIT) {
            this._resync(/** @type {string} */ (key), watched);
            return;
        }
        const tuples = await message.tuples();
        this._take(watched, epoch, v, tuples);
    }

    /** @param {Watched} watched @param {string} epoch @param {number} version @param {Tuple[]} tuples */
    _take(watched, epoch, version, tuples) {
        watched.epoch = epoch;
        watched.version = version;
        watched.tuples = tuples;
        for (const sub of [...watched.subscriptions]) sub._deliver(tuples, false);
    }

    /** @param {string} key @param {Watched} watched */
    _resync(key, watched) {
        if (watched.resyncing) return;
        watched.resyncing = true;
        this.client.request({filt: this._filt("poll", key), destVortexName: this.destVortexName})
            .then(async (reply) => {
                watched.resyncing = false;
                const {epoch, version} = reply.envelope.filt;
                if (this._watched.get(key) !== watched || typeof epoch !== "string" ||
                    typeof version !== "number") return;
                if (epoch !== watched.epoch || version > watched.version) {
                    this._take(watched, epoch, version, await reply.tuples());
                }
            }, (e) => {
                watched.resyncing = false;
                console.warn("vortex: resync of", key, "failed:", e);
            });
    }

    /** @param {Received} message */
    _onError(message) {
        const key = message.envelope.filt.tupleSelector;
        const watched = typeof key === "string" ? this._watched.get(key) : undefined;
        const error = message.envelope.error;
        if (!watched || !error) return;
        const remote = new RemoteError(error[0], error[1]);
        for (const sub of [...watched.subscriptions]) sub._deliverError(remote);
    }
}
