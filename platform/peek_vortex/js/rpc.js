/**
 * @file Calling an RPC a client plugin exposes (``@vortexRPC`` listening on ``peek-client``).
 */

import {RemoteError} from "./client.js";
import {RpcArgsTuple, RpcResultTuple} from "./tuples.js";

/** @typedef {import("./client.js").VortexClient} VortexClient */

/**
 * One remote function: ``rpcName`` is its Python module and qualified name, e.g.
 * ``peek_plugin_tutorial._private.client.DeviceRpc.DeviceRpc.echo``.
 */
export class VortexRpc {
    /**
     * @param {VortexClient} client
     * @param {string} rpcName
     * @param {{additionalFilt?: Record<string, unknown>, destVortexName?: string,
     *          timeoutSeconds?: number}} [options]
     */
    constructor(client, rpcName, options = {}) {
        this.client = client;
        this.rpcName = rpcName;
        this.filt = {...(options.additionalFilt || {}), key: `vortex.rpc.${rpcName}`};
        this.destVortexName = options.destVortexName ?? "peek-client";
        this.timeoutSeconds = options.timeoutSeconds ?? 30;
    }

    /**
     * Call with positional arguments; resolves with the function's return value.
     * @param {...unknown} args
     * @returns {Promise<unknown>}
     */
    call(...args) {
        return this.callWith(args, {});
    }

    /**
     * Call with positional and keyword arguments. Rejects with RemoteError (the remote
     * exception's name and message), ReplyTimeoutError or ConnectionLostError.
     * @param {unknown[]} args
     * @param {Record<string, unknown>} kwargs
     * @param {{timeoutSeconds?: number}} [options]
     * @returns {Promise<unknown>}
     */
    async callWith(args, kwargs, options = {}) {
        const reply = await this.client.request({
            filt: this.filt,
            destVortexName: this.destVortexName,
            tuples: [RpcArgsTuple.create({args, kwargs})],
        }, {timeoutSeconds: options.timeoutSeconds ?? this.timeoutSeconds});
        const tuples = await reply.tuples();
        const answer = tuples[0];
        if (tuples.length !== 1 || !(answer instanceof RpcResultTuple)) {
            throw new RemoteError("InvalidRpcAnswer", `expected one vortex.rpc.Result, got ${tuples.length} tuples`);
        }
        return answer.result;
    }
}
