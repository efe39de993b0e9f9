/**
 * @file Pushing actions to a plugin's action processor (the seed's TupleActionPushService;
 * the JavaScript side of ``peek_vortex.handlers``).
 */

import {ConnectionLostError, NotConnectedError, ReplyTimeoutError} from "./client.js";
import {TupleActionABC} from "./tuples.js";

/** @typedef {import("./client.js").VortexClient} VortexClient */
/** @typedef {import("./codec.js").Envelope} Envelope */
/** @typedef {import("./tuples.js").Tuple} Tuple */

/** No answer came within the timeout on any attempt. */
export class ActionTimeoutError extends Error {
    /** @param {string} message @param {string} actionId */
    constructor(message, actionId) {
        super(message);
        this.name = "ActionTimeoutError";
        this.code = "ActionTimeoutError";
        this.actionId = actionId;
    }
}

/**
 * The routing filt of one action processor.
 * @param {string} processorName
 * @param {Record<string, unknown>} [additionalFilt]
 */
export function actionFilt(processorName, additionalFilt) {
    return {...(additionalFilt || {}), key: `vortex.action.${processorName}`};
}

/**
 * Sends actions to the processor ``processorName`` through the client service, whose
 * action proxy relays them to the server.
 */
export class TupleActionPushService {
    /**
     * @param {VortexClient} client
     * @param {string} processorName the plugin's action processor name
     * @param {{additionalFilt?: Record<string, unknown>, destVortexName?: string,
     *          timeoutSeconds?: number, retries?: number}} [options]
     */
    constructor(client, processorName, options = {}) {
        this.client = client;
        this.processorName = processorName;
        this.filt = actionFilt(processorName, options.additionalFilt);
        this.destVortexName = options.destVortexName ?? "peek-client";
        this.timeoutSeconds = options.timeoutSeconds ?? 30;
        this.retries = options.retries ?? 2;
    }

    /**
     * The envelope of one action: encoded once, every attempt sends the same bytes.
     * @param {TupleActionABC} action
     * @returns {Promise<Envelope>}
     */
    async encode(action) {
        if (!(action instanceof TupleActionABC)) {
            throw new TypeError(`pushAction needs a TupleActionABC tuple, got ${String(action)}`);
        }
        return this.client.codec.makeEnvelope({
            filt: this.filt, tuples: [action], destVortexName: this.destVortexName,
        });
    }

    /**
     * Send ``action``; resolves with the result tuples, exactly once. Rejects with a
     * RemoteError (the processor's code and message), or ActionTimeoutError when no answer
     * came on any of ``1 + retries`` attempts (each waits for the connection, then for
     * the answer, within ``timeoutSeconds``). Every attempt sends the same action id, so
     * the server runs the action at most once.
     * @param {TupleActionABC} action
     * @param {{timeoutSeconds?: number, retries?: number}} [options]
     * @returns {Promise<Tuple[]>}
     */
    async pushAction(action, options = {}) {
        const envelope = await this.encode(action);
        return this.sendEncoded(envelope, action.uuid, options);
    }

    /**
     * Send an already-encoded action (what the offline queue stores) with retries.
     * @param {Envelope} envelope
     * @param {string} actionId
     * @param {{timeoutSeconds?: number, retries?: number}} [options]
     * @returns {Promise<Tuple[]>}
     */
    async sendEncoded(envelope, actionId, options = {}) {
        const timeout = options.timeoutSeconds ?? this.timeoutSeconds;
        const retries = options.retries ?? this.retries;
        for (let attempt = 1; ; attempt++) {
            const started = performance.now();
            try {
                await this.client.whenOpen(timeout);
                const left = Math.max(0.001, timeout - (performance.now() - started) / 1000);
                const reply = await this.client.request(envelope, {timeoutSeconds: left});
                return await reply.tuples();
            } catch (e) {
                const transient = e instanceof ReplyTimeoutError || e instanceof ConnectionLostError ||
                    e instanceof NotConnectedError;
                if (!transient) throw e;
                if (attempt > retries) {
                    if (e instanceof ReplyTimeoutError) {
                        throw new ActionTimeoutError(
                            `action ${actionId} to processor ${JSON.stringify(this.processorName)} ` +
                            `got no answer within ${timeout}s on ${attempt} attempt(s)`, actionId);
                    }
                    throw e;
                }
            }
        }
    }
}
