/**
 * @file The Peek bus client for browsers: one import for pages and plugin UIs.
 *
 *     import {VortexClient, TupleDataOfflineObserver, TupleActionPushOfflineService,
 *             TupleSelector, Tuple, addTupleType} from "/peek/vortex.js";
 *
 *     const client = new VortexClient({name: "peek-mobile"}).connect();
 *     client.addEventListener("statechange", (e) => show(e.detail.state));
 *     const observer = new TupleDataOfflineObserver(client, "peek_plugin_tutorial");
 *     observer.subscribe(TupleSelector.of("StringIntTuple"), (tuples, {stale}) => render(tuples, stale));
 *
 * Plain ES modules, no build step; served by the client service's mobile and desktop sites
 * and the server's admin site at ``/peek/``. See docs/browser-client.md for the whole API.
 */

export {
    addTupleType,
    randomUuid,
    registeredTupleNames,
    RpcArgsTuple,
    RpcResultTuple,
    Tuple,
    TupleActionABC,
    tupleFieldNames,
    TupleGenericAction,
    tupleInfoForClass,
    tupleInfoForName,
    TupleSelector,
    TupleTypeError,
    TupleUpdateAction,
} from "./tuples.js";
export {
    base64ToBytes,
    bytesToBase64,
    DateOnly,
    dateToIso,
    Decimal,
    DecodeError,
    defaultCodec,
    DEFLATE,
    EncodeError,
    isoToDate,
    PayloadTooLargeError,
    selectorFromKey,
    selectorKey,
    sortedJson,
    tupleFromJsonDict,
    tupleToJsonDict,
    UndeclaredFieldError,
    UnknownTupleTypeError,
    VortexCodec,
    VortexCodecError,
    WIRE_VERSION,
} from "./codec.js";
export {
    Backoff,
    ConnectionLostError,
    HEARTBEAT_KEY,
    NotConnectedError,
    RemoteError,
    ReplyTimeoutError,
    VortexClient,
} from "./client.js";
export {OBSERVABLE_KEY, Subscription, TupleDataObserver} from "./observer.js";
export {actionFilt, ActionTimeoutError, TupleActionPushService} from "./actions.js";
export {VortexRpc} from "./rpc.js";
export {
    DEFAULT_DB_NAME,
    defaultOfflineStore,
    OfflineStore,
    TRANSIENT_ERROR_CODES,
    TupleActionPushOfflineService,
    TupleDataOfflineObserver,
} from "./offline.js";
