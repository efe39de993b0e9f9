/**
 * @file The browser's bus connection: hello, request/reply, endpoints, heartbeats and
 * reconnects (the JavaScript side of ``peek_vortex.transport``).
 */

import {defaultCodec, sortedJson, VortexCodec} from "./codec.js";

/** @typedef {import("./codec.js").Envelope} Envelope */
/** @typedef {import("./codec.js").MessageSpec} MessageSpec */
/** @typedef {import("./tuples.js").Tuple} Tuple */

// The hello, heartbeat key and close codes mirror peek_vortex.wire, specified
// in docs/wire-protocol.md; tests/vortex/test_wire_spec.py checks them against Python.

/** The hello/welcome format version. */
export const HELLO_VERSION = 1;
/** The filt key of heartbeat requests (any answer, even an error, proves the link alive). */
export const HEARTBEAT_KEY = "vortex.heartbeat";

/** Close codes after which reconnecting cannot help (the hello itself is wrong). */
const FINAL_CLOSE_CODES = new Set([4400, 4403]);

/** An error answer from the far side: ``code`` is the remote error's name. */
export class RemoteError extends Error {
    /** @param {string} code @param {string} message */
    constructor(code, message) {
        super(`${code}: ${message}`);
        this.name = "RemoteError";
        this.code = code;
        this.remoteMessage = message;
    }
}

/** No reply came within the request's timeout. */
export class ReplyTimeoutError extends Error {
    /** @param {string} message */
    constructor(message) {
        super(message);
        this.name = "ReplyTimeoutError";
        this.code = "ReplyTimeoutError";
    }
}

/** The connection was lost (or closed) while a request waited for its reply. */
export class ConnectionLostError extends Error {
    /** @param {string} message */
    constructor(message) {
        super(message);
        this.name = "ConnectionLostError";
        this.code = "ConnectionLostError";
    }
}

/** A send was attempted while the connection is not open. */
export class NotConnectedError extends Error {
    /** @param {string} message */
    constructor(message) {
        super(message);
        this.name = "NotConnectedError";
        this.code = "NoTransportError";
    }
}

/**
 * The connection states, in the order a connection normally goes through them.
 * ``stopped``: never started or ``close()``d; ``connecting``: socket opening or hello
 * sent; ``open``: welcomed, messages flow; ``waiting``: lost, a reconnect is scheduled;
 * ``refused``: the service refused the hello for good (close code 4400 or 4403).
 * @typedef {"stopped" | "connecting" | "open" | "waiting" | "refused"} ConnectionState
 */

/**
 * @typedef {object} VortexClientOptions
 * @property {string} [url] websocket URL (default: ``/vortexws`` on the page's host)
 * @property {string} [name] vortex name claimed in the hello: ``peek-mobile`` (default) or ``peek-desktop``
 * @property {string | null} [token] device token, if the client service requires one
 * @property {VortexCodec} [codec]
 * @property {number} [heartbeatSeconds] idle seconds before a heartbeat request (10)
 * @property {number} [heartbeatTimeoutSeconds] silent seconds after it before the link is dropped (20)
 * @property {number} [reconnectInitialSeconds] first reconnect delay (0.5)
 * @property {number} [reconnectMaxSeconds] cap of the doubling delay (15)
 * @property {number} [requestTimeoutSeconds] default reply timeout (30)
 * @property {number} [helloTimeoutSeconds] seconds to wait for the welcome (10)
 * @property {typeof WebSocket} [WebSocketImpl] for tests
 */

/**
 * @typedef {object} Received
 * @property {Envelope} envelope
 * @property {VortexClient} client
 * @property {() => Promise<Tuple[]>} tuples decode (and inflate) the body
 */

/** @typedef {(message: Received) => (void | Promise<void>)} EndpointCallback */

/**
 * A capped, jittered exponential backoff: attempt n waits a random time between half and
 * all of ``min(max, initial * 2**n)`` (so reconnecting devices do not arrive in step).
 */
export class Backoff {
    /** @param {number} initial seconds @param {number} maximum seconds */
    constructor(initial, maximum) {
        this.initial = initial;
        this.maximum = Math.max(initial, maximum);
        this.attempt = 0;
    }

    /** Seconds to wait before the next attempt. */
    next() {
        const ceiling = Math.min(this.maximum, this.initial * 2 ** this.attempt);
        this.attempt = Math.min(this.attempt + 1, 30);
        return ceiling * (0.5 + Math.random() / 2);
    }

    reset() {
        this.attempt = 0;
    }
}

/** Whether every item of ``want`` is in ``filt`` with an equal value. @param {Record<string, unknown>} want @param {Record<string, unknown>} filt */
function filtMatches(want, filt) {
    for (const key of Object.keys(want)) {
        if (!(key in filt)) return false;
        const a = want[key];
        const b = filt[key];
        if (a === b) continue;
        if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
        if (sortedJson(a) !== sortedJson(b)) return false;
    }
    return true;
}

/** @param {string} prefix */
function newIdPrefix(prefix) {
    const r = crypto.getRandomValues(new Uint8Array(6));
    return `${prefix}${[...r].map((b) => b.toString(16).padStart(2, "0")).join("")}.`;
}

/**
 * One device's bus connection to its client service. Events (all ``CustomEvent``s):
 *
 * - ``statechange``: ``detail = {state, previous}`` on every state change;
 * - ``open``: ``detail = {uuid, serverName, maxFrameBytes}`` once welcomed (each (re)connect);
 * - ``close``: ``detail = {code, reason, willReconnect, delaySeconds}`` when a connection ends.
 */
export class VortexClient extends EventTarget {
    /** @param {VortexClientOptions} [options] */
    constructor(options = {}) {
        super();
        this.url = options.url ?? VortexClient.defaultUrl();
        this.name = options.name ?? "peek-mobile";
        this.token = options.token ?? null;
        this.codec = options.codec ?? defaultCodec;
        this.heartbeatSeconds = options.heartbeatSeconds ?? 10;
        this.heartbeatTimeoutSeconds = options.heartbeatTimeoutSeconds ?? 20;
        this.requestTimeoutSeconds = options.requestTimeoutSeconds ?? 30;
        this.helloTimeoutSeconds = options.helloTimeoutSeconds ?? 10;
        this.backoff = new Backoff(options.reconnectInitialSeconds ?? 0.5,
            options.reconnectMaxSeconds ?? 15);
        this.WebSocketImpl = options.WebSocketImpl ?? WebSocket;
        /** @type {ConnectionState} */
        this._state = "stopped";
        /** @type {WebSocket | null} */
        this._ws = null;
        /** The connection uuid the service assigned (null while not open). @type {string | null} */
        this.vortexUuid = null;
        /** The service's vortex name from its welcome (``peek-client``). @type {string | null} */
        this.serverName = null;
        this.maxFrameBytes = 0;
        /** @type {Map<string, {resolve: (r: Received) => void, reject: (e: Error) => void, timer: ReturnType<typeof setTimeout>, key: unknown}>} */
        this._pending = new Map();
        /** @type {Set<{filt: Record<string, unknown>, callback: EndpointCallback}>} */
        this._endpoints = new Set();
        this._idPrefix = newIdPrefix("js.");
        this._ids = 0;
        /** @type {ReturnType<typeof setTimeout> | null} */
        this._timer = null;
        this._lastReceived = 0;
        this._heartbeatSentAt = 0;
        /** Frames are handled one after another, so updates reach endpoints in order. */
        this._inbox = Promise.resolve();
    }

    /** ``ws(s)://<this page's host>/vortexws``. */
    static defaultUrl() {
        const loc = globalThis.location;
        return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/vortexws`;
    }

    /** @returns {ConnectionState} */
    get state() {
        return this._state;
    }

    get isOpen() {
        return this._state === "open";
    }

    /** Start connecting (and reconnecting after every loss) until {@link close}. */
    connect() {
        if (this._state === "stopped" || this._state === "refused") this._open();
        return this;
    }

    /** Close the connection and stop reconnecting; pending requests fail. */
    close() {
        this._clearTimer();
        const ws = this._ws;
        this._ws = null;
        if (ws) {
            this._detach(ws);
            ws.close(1000, "closed by the page");
        }
        const wasOpen = this._state === "open";
        this._setState("stopped");
        this._lost("the page closed the connection");
        if (wasOpen) this._emit("close", {code: 1000, reason: "closed by the page", willReconnect: false, delaySeconds: null});
    }

    /**
     * Resolves once the connection is open (at once if it is).
     * @param {number} [timeoutSeconds] reject with ReplyTimeoutError after this long
     * @returns {Promise<void>}
     */
    whenOpen(timeoutSeconds) {
        if (this.isOpen) return Promise.resolve();
        return new Promise((resolve, reject) => {
            /** @type {ReturnType<typeof setTimeout> | undefined} */
            let timer;
            const onOpen = () => {
                clearTimeout(timer);
                resolve();
            };
            this.addEventListener("open", onOpen, {once: true});
            if (timeoutSeconds !== undefined) {
                timer = setTimeout(() => {
                    this.removeEventListener("open", onOpen);
                    reject(new ReplyTimeoutError(`the bus did not connect within ${timeoutSeconds}s`));
                }, timeoutSeconds * 1000);
            }
        });
    }

    /**
     * Call ``callback`` for every received message (not a reply) whose filt contains all of
     * ``filt``. Returns a function that removes the endpoint.
     * @param {Record<string, unknown>} filt
     * @param {EndpointCallback} callback
     * @returns {() => void}
     */
    addEndpoint(filt, callback) {
        const endpoint = {filt, callback};
        this._endpoints.add(endpoint);
        return () => {
            this._endpoints.delete(endpoint);
        };
    }

    /** A message id unique to this page. */
    newMessageId() {
        this._ids += 1;
        return `${this._idPrefix}${this._ids}`;
    }

    /**
     * Send an envelope as it is. Throws NotConnectedError when the connection is not open.
     * @param {Envelope} envelope
     */
    sendEnvelope(envelope) {
        const ws = this._ws;
        if (!ws || this._state !== "open") {
            throw new NotConnectedError(`the bus is ${this._state}, not open; cannot send ${JSON.stringify(envelope.filt)}`);
        }
        const bytes = this.codec.encodeEnvelope(envelope);
        if (this.maxFrameBytes && bytes.length > this.maxFrameBytes) {
            throw new NotConnectedError(
                `message of ${bytes.length} bytes exceeds the service's limit of ${this.maxFrameBytes}`);
        }
        ws.send(bytes);
    }

    /**
     * Encode and send a message (no reply expected).
     * @param {MessageSpec} spec
     */
    async send(spec) {
        this.sendEnvelope(await this.codec.makeEnvelope(spec));
    }

    /**
     * Send a request and resolve with its reply. Rejects with RemoteError (the reply is an
     * error), ReplyTimeoutError, ConnectionLostError or NotConnectedError.
     * @param {MessageSpec | Envelope} message an envelope (``body`` set) or a spec (``tuples``)
     * @param {{timeoutSeconds?: number}} [options]
     * @returns {Promise<Received>}
     */
    async request(message, options = {}) {
        const envelope = "body" in message && message.body instanceof Uint8Array
            ? /** @type {Envelope} */ ({...message})
            : await this.codec.makeEnvelope(/** @type {MessageSpec} */ (message));
        const id = this.newMessageId();
        envelope.messageId = id;
        const timeout = options.timeoutSeconds ?? this.requestTimeoutSeconds;
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                this._pending.delete(id);
                reject(new ReplyTimeoutError(
                    `no reply to ${id} (filt key ${JSON.stringify(envelope.filt.key)}) within ${timeout}s`));
            }, timeout * 1000);
            this._pending.set(id, {resolve, reject, timer, key: envelope.filt.key});
            try {
                this.sendEnvelope(envelope);
            } catch (e) {
                clearTimeout(timer);
                this._pending.delete(id);
                reject(e);
            }
        });
    }

    /** Requests still waiting for their reply. */
    get pendingCount() {
        return this._pending.size;
    }

    // ---- internals

    /** @param {string} type @param {unknown} detail */
    _emit(type, detail) {
        this.dispatchEvent(new CustomEvent(type, {detail}));
    }

    /** @param {ConnectionState} state */
    _setState(state) {
        const previous = this._state;
        if (previous === state) return;
        this._state = state;
        this._emit("statechange", {state, previous});
    }

    _clearTimer() {
        if (this._timer !== null) clearTimeout(this._timer);
        this._timer = null;
    }

    /** @param {number} seconds @param {() => void} fn */
    _after(seconds, fn) {
        this._clearTimer();
        this._timer = setTimeout(() => {
            this._timer = null;
            fn();
        }, seconds * 1000);
    }

    _open() {
        this._setState("connecting");
        let ws;
        try {
            ws = new this.WebSocketImpl(this.url);
        } catch (e) {
            this._scheduleReconnect(1006, `cannot open ${this.url}: ${/** @type {Error} */ (e).message}`);
            return;
        }
        ws.binaryType = "arraybuffer";
        this._ws = ws;
        let welcomed = false;
        ws.onopen = () => {
            /** @type {Record<string, unknown>} */
            const hello = {vortex: "hello", version: HELLO_VERSION, name: this.name};
            if (this.token) hello.token = this.token;
            ws.send(new TextEncoder().encode(JSON.stringify(hello)));
            this._after(this.helloTimeoutSeconds, () => this._drop(ws, 4408, "no welcome arrived"));
        };
        ws.onmessage = (event) => {
            this._lastReceived = performance.now();
            if (!(event.data instanceof ArrayBuffer)) {
                this._drop(ws, 4415, "the bus speaks binary frames only");
                return;
            }
            if (!welcomed) {
                welcomed = this._welcome(ws, new Uint8Array(event.data));
                return;
            }
            const data = new Uint8Array(event.data);
            this._inbox = this._inbox.then(() => this._receive(data));
        };
        ws.onclose = (event) => {
            if (this._ws !== ws) return;
            this._ws = null;
            this._closed(event.code, event.reason);
        };
        ws.onerror = () => undefined; // a close event always follows with the code
    }

    /** @param {WebSocket} ws @param {Uint8Array} data @returns {boolean} */
    _welcome(ws, data) {
        let welcome;
        try {
            welcome = JSON.parse(new TextDecoder().decode(data));
        } catch {
            welcome = null;
        }
        if (!welcome || welcome.vortex !== "welcome" || welcome.version !== HELLO_VERSION ||
            typeof welcome.uuid !== "string" || typeof welcome.name !== "string") {
            this._drop(ws, 4400, "first frame was not a welcome");
            return false;
        }
        this.vortexUuid = welcome.uuid;
        this.serverName = welcome.name;
        this.maxFrameBytes = Number(welcome.maxFrameBytes) || 0;
        this.backoff.reset();
        this._setState("open");
        this._scheduleHeartbeat();
        this._emit("open", {uuid: welcome.uuid, serverName: welcome.name, maxFrameBytes: this.maxFrameBytes});
        return true;
    }

    /** Close ``ws`` from this side and treat the connection as lost now (a dead network
     * may take long to finish the closing handshake). @param {WebSocket} ws @param {number} code @param {string} reason */
    _drop(ws, code, reason) {
        if (this._ws !== ws) return;
        this._ws = null;
        this._detach(ws);
        try {
            ws.close(code >= 4000 ? code : 4000, reason);
        } catch {
            ws.close();
        }
        this._closed(code, reason);
    }

    /** @param {WebSocket} ws */
    _detach(ws) {
        ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    }

    /** @param {number} code @param {string} reason */
    _closed(code, reason) {
        this._clearTimer();
        const wasOpen = this._state === "open";
        this.vortexUuid = null;
        this._lost(`connection closed (${code} ${reason})`);
        if (FINAL_CLOSE_CODES.has(code)) {
            this._setState("refused");
            this._emit("close", {code, reason, willReconnect: false, delaySeconds: null});
            return;
        }
        this._scheduleReconnect(code, reason, wasOpen);
    }

    /** @param {number} code @param {string} reason @param {boolean} [wasOpen] */
    _scheduleReconnect(code, reason, wasOpen = false) {
        const delay = this.backoff.next();
        this._setState("waiting");
        this._emit("close", {code, reason, willReconnect: true, delaySeconds: delay, wasOpen});
        this._after(delay, () => this._open());
    }

    /** Fail every pending request. @param {string} why */
    _lost(why) {
        const pending = [...this._pending.entries()];
        this._pending.clear();
        for (const [id, entry] of pending) {
            clearTimeout(entry.timer);
            entry.reject(new ConnectionLostError(
                `request ${id} (filt key ${JSON.stringify(entry.key)}) failed: ${why}`));
        }
    }

    _scheduleHeartbeat() {
        this._after(this.heartbeatSeconds, () => this._heartbeat());
    }

    /** Idle for a heartbeat interval: ask for any answer; silent past the timeout: drop. */
    _heartbeat() {
        const ws = this._ws;
        if (!ws || this._state !== "open") return;
        const now = performance.now();
        const idle = (now - this._lastReceived) / 1000;
        if (this._heartbeatSentAt && this._lastReceived < this._heartbeatSentAt &&
            (now - this._heartbeatSentAt) / 1000 >= this.heartbeatTimeoutSeconds) {
            this._drop(ws, 4000, `no answer to a heartbeat within ${this.heartbeatTimeoutSeconds}s`);
            return;
        }
        if (idle >= this.heartbeatSeconds && (!this._heartbeatSentAt || this._lastReceived >= this._heartbeatSentAt)) {
            this._heartbeatSentAt = now;
            try {
                this.sendEnvelope({filt: {key: HEARTBEAT_KEY}, body: new Uint8Array(0),
                    messageId: this.newMessageId()});
            } catch {
                // The socket is going away; its close event reconnects.
            }
        }
        const waitingFor = this._lastReceived < this._heartbeatSentAt
            ? this.heartbeatTimeoutSeconds - (now - this._heartbeatSentAt) / 1000
            : this.heartbeatSeconds - idle;
        this._after(Math.max(0.05, Math.min(waitingFor, this.heartbeatSeconds)), () => this._heartbeat());
    }

    /** @param {Uint8Array} data */
    async _receive(data) {
        let envelope;
        try {
            envelope = this.codec.decodeEnvelope(data);
        } catch (e) {
            console.warn("vortex: dropped a malformed message:", e);
            return;
        }
        const codec = this.codec;
        /** @type {Received} */
        const received = {envelope, client: this, tuples: () => codec.decodeTuples(envelope)};
        if (envelope.replyToId != null) {
            const pending = this._pending.get(envelope.replyToId);
            if (!pending) return; // late or unknown (a heartbeat's answer lands here)
            this._pending.delete(envelope.replyToId);
            clearTimeout(pending.timer);
            if (envelope.error) pending.reject(new RemoteError(envelope.error[0], envelope.error[1]));
            else pending.resolve(received);
            return;
        }
        for (const endpoint of [...this._endpoints]) {
            if (!this._endpoints.has(endpoint) || !filtMatches(endpoint.filt, envelope.filt)) continue;
            try {
                await endpoint.callback(received);
            } catch (e) {
                console.error("vortex: endpoint", endpoint.filt, "failed:", e);
            }
        }
    }
}
