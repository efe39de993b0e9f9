/**
 * @file The bus wire format in the browser: the same bytes as
 * ``peek_vortex.wire.VortexCodec`` (wire version 1; see docs/wire-protocol.md).
 *
 * A message is ``HEADER 0x0A BODY``: the header one compact JSON object (keys ``v f m r d
 * c s e z n o`` in that order), the body empty or ``{"T": type table, "R": runs, "x": 1?}``,
 * deflated (zlib, ``z: "deflate"``, ``n``: inflated size) when large. Values that JSON cannot
 * carry travel as tagged values; in JavaScript they are:
 *
 * | tag  | Python            | JavaScript                                       |
 * |------|-------------------|--------------------------------------------------|
 * | ~d   | datetime          | ``Date`` (encoded in UTC; a naive one is read as UTC) |
 * | ~D   | date              | {@link DateOnly}                                  |
 * | ~b   | bytes             | ``Uint8Array`` (``ArrayBuffer`` is encoded too)   |
 * | ~n   | Decimal           | {@link Decimal} (the exact string)                |
 * | ~i   | int beyond 64 bit | ``bigint`` (any bigint beyond 2**53 is sent so)   |
 * | ~f   | NaN / +-inf       | ``NaN`` / ``Infinity`` / ``-Infinity``            |
 * | ~t   | nested tuple      | a registered {@link Tuple}                        |
 * | ~e   | dict with one ~key| a plain object with one key starting with ``~``   |
 * | ~j   | nested tuple in a JSON dict (``toJsonDict``) | a registered Tuple     |
 *
 * What JavaScript cannot say exactly: a float with no fraction (``1.0`` arrives as ``1``
 * and goes back as an int), ints beyond 2**53 written plain (``JSON.parse`` rounds them),
 * microseconds and UTC offsets of datetimes (a ``Date`` holds milliseconds in UTC), and
 * object keys that look like array indexes (JavaScript orders them first).
 */

import {
    Tuple,
    tupleInfoForClass,
    tupleInfoForName,
    TupleSelector,
} from "./tuples.js";

// These constants mirror peek_vortex.wire, specified in docs/wire-protocol.md;
// tests/vortex/test_wire_spec.py fails when they differ from the Python values.

/** The format version written in every header; a receiver rejects any other. */
export const WIRE_VERSION = 1;
/** Deepest nesting of arrays and objects a header may hold (the header is level 1). */
export const MAX_HEADER_DEPTH = 32;
export const DEFLATE = "deflate";

const TAGS = new Set(["~e", "~t", "~d", "~D", "~b", "~n", "~i", "~f", "~j"]);
const encoder = new TextEncoder();
const strictDecoder = new TextDecoder("utf-8", {fatal: true});

// ---- errors (named as the Python errors, so an error's name is its wire code)

/** Base of the codec's errors; ``code`` is the Python error's class name. */
export class VortexCodecError extends Error {
    /** @param {string} message */
    constructor(message) {
        super(message);
        this.name = "VortexCodecError";
        /** @type {string} */
        this.code = "VortexError";
    }
}

/** A message that cannot be read. */
export class DecodeError extends VortexCodecError {
    /** @param {string} message */
    constructor(message) {
        super(message);
        this.name = this.code = "DecodeError";
    }
}

/** A value or tuple that cannot be written. */
export class EncodeError extends VortexCodecError {
    /** @param {string} message */
    constructor(message) {
        super(message);
        this.name = this.code = "EncodeError";
    }
}

/** A body that would inflate beyond the codec's limit. */
export class PayloadTooLargeError extends DecodeError {
    /** @param {number} limit @param {number | null | undefined} size */
    constructor(limit, size) {
        super(`payload body of ${size ?? "unknown"} bytes exceeds the limit of ${limit} bytes`);
        this.name = this.code = "PayloadTooLargeError";
    }
}

/** A body naming a tuple type this page has not registered. */
export class UnknownTupleTypeError extends DecodeError {
    /** @param {string} name */
    constructor(name) {
        super(`tuple type ${JSON.stringify(name)} is not registered here; call addTupleType`);
        this.name = this.code = "UnknownTupleTypeError";
    }
}

/** A body naming a field its tuple class does not declare. */
export class UndeclaredFieldError extends DecodeError {
    /** @param {string} type @param {string} field */
    constructor(type, field) {
        super(`tuple type ${JSON.stringify(type)} has no field ${JSON.stringify(field)}`);
        this.name = this.code = "UndeclaredFieldError";
    }
}

// ---- value types JavaScript lacks

/** A Python ``Decimal``: kept as its exact string (``~n``). */
export class Decimal {
    /** @param {string | number} value */
    constructor(value) {
        const text = String(value);
        if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(NaN|sNaN|Infinity)$/.test(text)) {
            throw new EncodeError(`${JSON.stringify(text)} is not a decimal number`);
        }
        /** @readonly */
        this.value = text;
    }

    toString() { return this.value; }

    toNumber() { return Number(this.value); }

    toJSON() { return this.value; }
}

/** A Python ``date`` (no time of day): ``iso`` is ``YYYY-MM-DD`` (``~D``). */
export class DateOnly {
    /** @param {string} iso */
    constructor(iso) {
        if (!/^\d{4}-\d{2}-\d{2}$/.test(iso)) {
            throw new EncodeError(`${JSON.stringify(iso)} is not a YYYY-MM-DD date`);
        }
        /** @readonly */
        this.iso = iso;
    }

    /** Midnight UTC of this date. */
    toDate() { return new Date(`${this.iso}T00:00:00Z`); }

    toString() { return this.iso; }
}

// ---- envelopes

/**
 * Who really sent a message: ``[vortex name, connection uuid, is device]`` (header ``o``).
 * @typedef {[string, string, boolean]} Originator
 */

/**
 * A message as it travels: routing header fields plus the body bytes as on the wire.
 * @typedef {object} Envelope
 * @property {Record<string, unknown>} filt the routing filt (header ``f``)
 * @property {Uint8Array} body the body as on the wire (deflated when ``compression``)
 * @property {unknown} [result] header ``s``
 * @property {[string, string] | null} [error] header ``e``: ``[code, message]``
 * @property {string | null} [messageId] header ``m``
 * @property {string | null} [replyToId] header ``r``
 * @property {string | null} [destVortexName] header ``d``
 * @property {string | null} [destVortexUuid] header ``c``
 * @property {string | null} [compression] header ``z``
 * @property {number | null} [inflatedSize] header ``n``
 * @property {Originator | null} [originator] header ``o``
 */

/**
 * The fields of a message to send (``tuples`` are encoded into the body).
 * @typedef {object} MessageSpec
 * @property {Record<string, unknown>} [filt]
 * @property {Tuple[]} [tuples]
 * @property {unknown} [result]
 * @property {[string, string] | null} [error]
 * @property {string | null} [messageId]
 * @property {string | null} [replyToId]
 * @property {string | null} [destVortexName]
 * @property {string | null} [destVortexUuid]
 * @property {Originator | null} [originator]
 */

/** @param {unknown} value @returns {value is Record<string, unknown>} */
function isPlainObject(value) {
    if (value === null || typeof value !== "object") return false;
    const proto = Object.getPrototypeOf(value);
    return proto === Object.prototype || proto === null;
}

/** @param {unknown} value */
function typeName(value) {
    if (value === null) return "null";
    if (typeof value === "object") return value.constructor ? value.constructor.name : "object";
    return typeof value;
}

/** @param {Uint8Array} bytes */
export function bytesToBase64(bytes) {
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
        binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
}

/** @param {string} text */
export function base64ToBytes(text) {
    if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
        throw new Error("not standard padded base64");
    }
    const binary = atob(text);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
}

/** A ``Date`` as Python's ``datetime.isoformat()`` writes the same UTC instant. @param {Date} date */
export function dateToIso(date) {
    const time = date.getTime();
    if (!Number.isFinite(time)) throw new EncodeError("cannot encode an invalid Date");
    const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
    const ms = iso.slice(20, 23);
    return `${iso.slice(0, 19)}${ms === "000" ? "" : `.${ms}000`}+00:00`;
}

/** A Python ``isoformat()`` datetime as a ``Date``; one without offset is read as UTC. @param {string} iso */
export function isoToDate(iso) {
    const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$/.exec(iso);
    if (!m) throw new Error(`${JSON.stringify(iso)} is not an ISO 8601 datetime`);
    const fraction = (m[3] || "").padEnd(3, "0").slice(0, 3);
    // Offsets with seconds (rare, historical zones) are cut to minutes: Date cannot say them.
    const offset = m[4] ? m[4].slice(0, 6) : "Z";
    const date = new Date(`${m[1]}T${m[2].length === 5 ? `${m[2]}:00` : m[2]}.${fraction}${offset}`);
    if (!Number.isFinite(date.getTime())) throw new Error(`${JSON.stringify(iso)} is out of range`);
    return date;
}

/** One use: turns tuples into the body document, collecting the type table as it goes. */
class BodyEncoder {
    /** @param {boolean} [jsonDicts] nested tuples as standalone ``~j`` dicts */
    constructor(jsonDicts = false) {
        /** @type {[string, string[]][]} */
        this.types = [];
        /** @type {Map<Function, number>} */
        this.typeIndex = new Map();
        this.tagged = false;
        this.jsonDicts = jsonDicts;
    }

    /** @param {Tuple} obj @returns {[number, string[]]} */
    typeOf(obj) {
        const cls = obj.constructor;
        const info = tupleInfoForClass(cls);
        if (!info) {
            if (obj instanceof Tuple) {
                throw new EncodeError(
                    `tuple class ${cls.name} is not registered; call addTupleType on it`);
            }
            throw new EncodeError(`payload tuples must be Tuple instances, got ${typeName(obj)}`);
        }
        let index = this.typeIndex.get(cls);
        if (index === undefined) {
            index = this.types.length;
            this.types.push([info.name, info.fields.slice()]);
            this.typeIndex.set(cls, index);
        }
        return [index, info.fields];
    }

    /** @param {Tuple[]} tuples */
    encode(tuples) {
        /** @type {unknown[][]} */
        const runs = [];
        /** @type {unknown[]} */
        let run = [];
        /** @type {Function | null} */
        let runCls = null;
        /** @type {string[]} */
        let fields = [];
        for (const obj of tuples) {
            if (obj === null || typeof obj !== "object") {
                throw new EncodeError(`payload tuples must be Tuple instances, got ${typeName(obj)}`);
            }
            if (obj.constructor !== runCls) {
                const [index, f] = this.typeOf(obj);
                fields = f;
                run = [index];
                runs.push(run);
                runCls = obj.constructor;
            }
            run.push(this.row(obj, fields));
        }
        /** @type {Record<string, unknown>} */
        const doc = {T: this.types, R: runs};
        if (this.tagged) doc.x = 1;
        return doc;
    }

    /** @param {Tuple} obj @param {string[]} fields */
    row(obj, fields) {
        const source = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (obj));
        const out = new Array(fields.length);
        for (let i = 0; i < fields.length; i++) {
            const value = source[fields[i]];
            const t = typeof value;
            if (t === "string" || t === "boolean" || value === null) {
                out[i] = value;
            } else if (t === "number" && Number.isFinite(value)) {
                out[i] = value;
            } else {
                try {
                    out[i] = this.convert(value);
                } catch (e) {
                    if (!(e instanceof EncodeError)) throw e;
                    const name = tupleInfoForClass(obj.constructor)?.name;
                    throw new EncodeError(
                        `tuple type ${JSON.stringify(name)} field ${JSON.stringify(fields[i])}: ${e.message}`);
                }
            }
        }
        return out;
    }

    /**
     * @param {unknown} value
     * @param {number} [depth]
     * @returns {unknown}
     */
    convert(value, depth = 0) {
        if (depth > 500) throw new EncodeError("payload values nest too deeply (or contain a cycle)");
        if (value === null || value === undefined) return null;
        switch (typeof value) {
            case "string":
            case "boolean":
                return value;
            case "number":
                if (Number.isFinite(value)) return value;
                this.tagged = true;
                return {"~f": Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity"};
            case "bigint":
                if (value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)) {
                    return Number(value);
                }
                this.tagged = true;
                return {"~i": value.toString()};
            case "object":
                break;
            default:
                throw new EncodeError(`cannot encode a value of type ${typeof value}`);
        }
        if (Array.isArray(value)) {
            return value.map((v) => this.convert(v, depth + 1));
        }
        if (isPlainObject(value)) {
            /** @type {Record<string, unknown>} */
            const out = {};
            const keys = Object.keys(value);
            for (const key of keys) out[key] = this.convert(value[key], depth + 1);
            if (keys.length === 1 && keys[0].startsWith("~")) {
                this.tagged = true;
                return {"~e": out};
            }
            return out;
        }
        if (value instanceof Tuple) {
            if (this.jsonDicts) return {"~j": tupleToJsonDict(value)};
            this.tagged = true;
            const [index, fields] = this.typeOf(value);
            return {"~t": [index, ...this.row(value, fields)]};
        }
        this.tagged = true;
        if (value instanceof Date) return {"~d": dateToIso(value)};
        if (value instanceof DateOnly) return {"~D": value.iso};
        if (value instanceof Decimal) return {"~n": value.value};
        if (value instanceof Uint8Array) return {"~b": bytesToBase64(value)};
        if (value instanceof ArrayBuffer) return {"~b": bytesToBase64(new Uint8Array(value))};
        if (ArrayBuffer.isView(value)) {
            return {"~b": bytesToBase64(new Uint8Array(value.buffer, value.byteOffset, value.byteLength))};
        }
        throw new EncodeError(`cannot encode a value of type ${typeName(value)}`);
    }
}

/**
 * A decoding plan: the class, the wire fields, and whether they are the declared ones.
 * @typedef {{cls: new () => Tuple, name: string, fields: string[]}} Plan
 */

/** One use: turns a parsed body document into tuples, checking it on the way. */
class BodyDecoder {
    /** @param {unknown} doc @param {boolean} [alwaysTagged] */
    constructor(doc, alwaysTagged = false) {
        if (!isPlainObject(doc)) throw new DecodeError("payload body is not a JSON object");
        const types = doc.T;
        const runs = doc.R;
        if (!Array.isArray(types) || !Array.isArray(runs)) {
            throw new DecodeError("payload body needs a 'T' list (types) and an 'R' list (rows)");
        }
        this.tagged = alwaysTagged || doc.x === 1;
        this.runs = runs;
        /** @type {Plan[]} */
        this.plans = types.map((entry) => BodyDecoder.plan(entry));
    }

    /** @param {unknown} entry @returns {Plan} */
    static plan(entry) {
        if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string" ||
            !Array.isArray(entry[1]) || !entry[1].every((f) => typeof f === "string")) {
            throw new DecodeError("payload type table entries must be [type name, [field, ...]]");
        }
        const [name, fields] = entry;
        const info = tupleInfoForName(name);
        if (!info) throw new UnknownTupleTypeError(name);
        for (const field of fields) {
            if (!info.fieldSet.has(field)) throw new UndeclaredFieldError(name, field);
        }
        if (new Set(fields).size !== fields.length) {
            throw new DecodeError(`tuple type ${JSON.stringify(name)} lists a field twice on the wire`);
        }
        return {cls: info.cls, name, fields};
    }

    /** @returns {Tuple[]} */
    decode() {
        /** @type {Tuple[]} */
        const out = [];
        for (const run of this.runs) {
            if (!Array.isArray(run) || run.length === 0 || !Number.isInteger(run[0])) {
                throw new DecodeError("payload rows must be runs [type index, row, ...]");
            }
            const plan = this.planAt(run[0]);
            for (let i = 1; i < run.length; i++) out.push(this.build(plan, run[i]));
        }
        return out;
    }

    /** @param {unknown} index */
    planAt(index) {
        const plan = typeof index === "number" ? this.plans[index] : undefined;
        if (!plan) throw new DecodeError(`payload refers to type index ${index}, which the table lacks`);
        return plan;
    }

    /** @param {Plan} plan @param {unknown} row */
    build(plan, row) {
        const fields = plan.fields;
        if (!Array.isArray(row) || row.length !== fields.length) {
            throw new DecodeError(
                `a row of tuple type ${JSON.stringify(plan.name)} is not an array of its fields`);
        }
        const obj = new plan.cls();
        const target = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (obj));
        if (this.tagged) {
            for (let i = 0; i < fields.length; i++) {
                const v = row[i];
                target[fields[i]] = v !== null && typeof v === "object" ? this.value(v) : v;
            }
        } else {
            for (let i = 0; i < fields.length; i++) target[fields[i]] = row[i];
        }
        return obj;
    }

    /** @param {unknown} value @returns {unknown} */
    value(value) {
        if (Array.isArray(value)) {
            return value.map((v) => (v !== null && typeof v === "object" ? this.value(v) : v));
        }
        if (!isPlainObject(value)) return value;
        const keys = Object.keys(value);
        if (keys.length === 1 && keys[0].startsWith("~")) return this.untag(keys[0], value[keys[0]]);
        /** @type {Record<string, unknown>} */
        const out = {};
        for (const key of keys) {
            const v = value[key];
            out[key] = v !== null && typeof v === "object" ? this.value(v) : v;
        }
        return out;
    }

    /** @param {string} tag @param {unknown} inner @returns {unknown} */
    untag(tag, inner) {
        if (!TAGS.has(tag) || tag === "~j") throw new DecodeError(`unknown tagged value ${JSON.stringify(tag)}`);
        try {
            if (tag === "~e") {
                if (!isPlainObject(inner)) throw new Error("escaped dict is not an object");
                /** @type {Record<string, unknown>} */
                const out = {};
                for (const [k, v] of Object.entries(inner)) out[k] = this.value(v);
                return out;
            }
            if (tag === "~t") {
                if (!Array.isArray(inner) || inner.length === 0 || !Number.isInteger(inner[0])) {
                    throw new Error("nested tuple is not [type index, values...]");
                }
                return this.build(this.planAt(inner[0]), inner.slice(1));
            }
            if (typeof inner !== "string") throw new Error("tagged value is not a string");
            switch (tag) {
                case "~d": return isoToDate(inner);
                case "~D": return new DateOnly(inner);
                case "~b": return base64ToBytes(inner);
                case "~n": return new Decimal(inner);
                case "~i":
                    if (!/^[+-]?\d+$/.test(inner)) throw new Error(`${JSON.stringify(inner)} is not an integer`);
                    return BigInt(inner);
                case "~f":
                    if (inner === "NaN") return NaN;
                    if (inner === "Infinity") return Infinity;
                    if (inner === "-Infinity") return -Infinity;
                    throw new Error(`${JSON.stringify(inner)} is not a non-finite float`);
            }
        } catch (e) {
            if (e instanceof DecodeError) throw e;
            throw new DecodeError(`bad tagged value ${JSON.stringify(tag)}: ${/** @type {Error} */ (e).message}`);
        }
        throw new DecodeError(`unknown tagged value ${JSON.stringify(tag)}`);
    }
}

/** Decodes standalone tuple JSON dicts (``toJsonDict`` output): ``~j`` allowed. */
class JsonDictDecoder extends BodyDecoder {
    /** @param {string} tag @param {unknown} inner @returns {unknown} */
    untag(tag, inner) {
        if (tag === "~j") {
            if (!isPlainObject(inner)) throw new DecodeError("bad tagged value \"~j\": not an object");
            return tupleFromJsonDict(inner);
        }
        return super.untag(tag, inner);
    }
}

/** @param {unknown} value */
function nestingDepth(value) {
    let deepest = 0;
    /** @type {[unknown, number][]} */
    const stack = [[value, 1]];
    while (stack.length) {
        const [item, level] = /** @type {[unknown, number]} */ (stack.pop());
        if (item === null || typeof item !== "object") continue;
        deepest = Math.max(deepest, level);
        for (const child of Object.values(item)) stack.push([child, level + 1]);
    }
    return deepest;
}

/**
 * Run ``data`` through a (De)CompressionStream, refusing more than ``limit`` output bytes.
 * @param {Uint8Array} data
 * @param {CompressionStream | DecompressionStream} stream
 * @param {number} limit
 * @param {number | null | undefined} claimed
 */
async function pipeThrough(data, stream, limit, claimed) {
    const writer = stream.writable.getWriter();
    // Errors surface on the read side; the write side's promises are only awaited there.
    const written = writer.write(/** @type {Uint8Array<ArrayBuffer>} */ (data)).then(() => writer.close());
    written.catch(() => undefined);
    const reader = stream.readable.getReader();
    /** @type {Uint8Array[]} */
    const chunks = [];
    let total = 0;
    for (;;) {
        const {done, value} = await reader.read();
        if (done) break;
        total += value.length;
        if (total > limit) {
            await reader.cancel();
            throw new PayloadTooLargeError(limit, claimed ?? total);
        }
        chunks.push(value);
    }
    await written;
    const out = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
        out.set(chunk, offset);
        offset += chunk.length;
    }
    return out;
}

/**
 * Encodes and decodes bus messages; its settings are the limits (the same defaults as the
 * Python codec: compress bodies of 16 KiB or more, inflate at most 64 MiB).
 */
export class VortexCodec {
    /**
     * @param {{compressThreshold?: number, maxInflatedBytes?: number}} [options]
     */
    constructor(options = {}) {
        this.compressThreshold = options.compressThreshold ?? 16 * 1024;
        this.maxInflatedBytes = options.maxInflatedBytes ?? 64 * 1024 * 1024;
    }

    // ---- header

    /**
     * One message's bytes: the envelope's header line, then its body as it is.
     * @param {Envelope} envelope
     * @returns {Uint8Array}
     */
    encodeEnvelope(envelope) {
        /** @type {Record<string, unknown>} */
        const header = {v: WIRE_VERSION, f: envelope.filt};
        if (envelope.messageId != null) header.m = envelope.messageId;
        if (envelope.replyToId != null) header.r = envelope.replyToId;
        if (envelope.destVortexName != null) header.d = envelope.destVortexName;
        if (envelope.destVortexUuid != null) header.c = envelope.destVortexUuid;
        if (envelope.result != null) header.s = envelope.result;
        if (envelope.error != null) header.e = [String(envelope.error[0]), String(envelope.error[1])];
        if (envelope.compression != null) {
            if (envelope.compression !== DEFLATE || envelope.inflatedSize == null) {
                throw new EncodeError("a compressed envelope needs compression 'deflate' and a size");
            }
            header.z = envelope.compression;
            header.n = envelope.inflatedSize;
        }
        if (envelope.originator != null) header.o = [...envelope.originator];
        let head;
        try {
            head = encoder.encode(JSON.stringify(header));
        } catch (e) {
            throw new EncodeError(
                `envelope header (filt ${JSON.stringify(envelope.filt)}) must hold JSON-native ` +
                `values: ${/** @type {Error} */ (e).message}`);
        }
        const body = envelope.body || new Uint8Array(0);
        const out = new Uint8Array(head.length + 1 + body.length);
        out.set(head, 0);
        out[head.length] = 10;
        out.set(body, head.length + 1);
        return out;
    }

    /**
     * Read only the header of a message; the body stays as on the wire.
     * @param {Uint8Array | ArrayBuffer} data
     * @returns {Envelope}
     */
    decodeEnvelope(data) {
        const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
        const end = bytes.indexOf(10);
        if (end < 0) throw new DecodeError("message has no header terminator (byte 0x0A)");
        let header;
        try {
            header = JSON.parse(strictDecoder.decode(bytes.subarray(0, end)));
        } catch (e) {
            throw new DecodeError(`message header is not valid JSON: ${/** @type {Error} */ (e).message}`);
        }
        if (!isPlainObject(header)) throw new DecodeError("message header is not a JSON object");
        if (nestingDepth(header) > MAX_HEADER_DEPTH) {
            throw new DecodeError(
                `message header nests arrays and objects deeper than ${MAX_HEADER_DEPTH} levels`);
        }
        if (header.v !== WIRE_VERSION) {
            throw new DecodeError(
                `unsupported wire format version ${JSON.stringify(header.v)} (this side speaks ${WIRE_VERSION})`);
        }
        if (!isPlainObject(header.f)) throw new DecodeError("message header has no 'f' (filt) object");
        for (const key of ["m", "r", "d", "c"]) {
            if (header[key] != null && typeof header[key] !== "string") {
                throw new DecodeError(`message header field '${key}' must be a string`);
            }
        }
        const origin = header.o;
        if (origin != null && !(Array.isArray(origin) && origin.length === 3 &&
            typeof origin[0] === "string" && typeof origin[1] === "string" &&
            typeof origin[2] === "boolean")) {
            throw new DecodeError("message header field 'o' must be [vortex name, connection uuid, is device]");
        }
        const error = header.e;
        if (error != null && !(Array.isArray(error) && error.length === 2 &&
            typeof error[0] === "string" && typeof error[1] === "string")) {
            throw new DecodeError("message header field 'e' must be [code, message]");
        }
        if (header.z != null) {
            if (header.z !== DEFLATE) throw new DecodeError(`unknown body compression ${JSON.stringify(header.z)}`);
            if (!Number.isInteger(header.n) || /** @type {number} */ (header.n) < 0) {
                throw new DecodeError("compressed message has no valid 'n' (inflated size)");
            }
        }
        return {
            filt: header.f,
            body: bytes.subarray(end + 1),
            result: header.s ?? null,
            error: /** @type {[string, string] | null} */ (error ?? null),
            messageId: /** @type {string | null} */ (header.m ?? null),
            replyToId: /** @type {string | null} */ (header.r ?? null),
            destVortexName: /** @type {string | null} */ (header.d ?? null),
            destVortexUuid: /** @type {string | null} */ (header.c ?? null),
            compression: /** @type {string | null} */ (header.z ?? null),
            inflatedSize: /** @type {number | null} */ (header.n ?? null),
            originator: /** @type {Originator | null} */ (origin ?? null),
        };
    }

    // ---- body compression

    /**
     * Compress a body when it is big enough and it helps.
     * @param {Uint8Array} body
     * @returns {Promise<{body: Uint8Array, compression: string | null, inflatedSize: number | null}>}
     */
    async packBody(body) {
        if (body.length < this.compressThreshold) return {body, compression: null, inflatedSize: null};
        const packed = await pipeThrough(body, new CompressionStream("deflate"), Infinity, null);
        if (packed.length >= body.length) return {body, compression: null, inflatedSize: null};
        return {body: packed, compression: DEFLATE, inflatedSize: body.length};
    }

    /**
     * Inflate a body; no body, compressed or not, may exceed ``maxInflatedBytes``.
     * @param {Uint8Array} body
     * @param {string | null | undefined} compression
     * @param {number | null | undefined} size
     * @returns {Promise<Uint8Array>}
     */
    async unpackBody(body, compression, size) {
        const limit = this.maxInflatedBytes;
        if (compression == null) {
            if (body.length > limit) throw new PayloadTooLargeError(limit, body.length);
            return body;
        }
        if (size != null && size > limit) throw new PayloadTooLargeError(limit, size);
        let out;
        try {
            out = await pipeThrough(body, new DecompressionStream("deflate"), limit, size);
        } catch (e) {
            if (e instanceof PayloadTooLargeError) throw e;
            throw new DecodeError(`compressed body is corrupt: ${/** @type {Error} */ (e).message}`);
        }
        if (size != null && out.length !== size) {
            throw new DecodeError(`body inflated to ${out.length} bytes, the header said ${size}`);
        }
        return out;
    }

    // ---- body

    /**
     * Encode registered tuples as an (uncompressed) body; no tuples give an empty body.
     * @param {Tuple[]} tuples
     * @returns {Uint8Array}
     */
    encodeBody(tuples) {
        if (!tuples.length) return new Uint8Array(0);
        let text;
        try {
            text = JSON.stringify(new BodyEncoder().encode(tuples));
        } catch (e) {
            if (e instanceof EncodeError) throw e;
            throw new EncodeError(`cannot encode payload: ${/** @type {Error} */ (e).message}`);
        }
        return encoder.encode(text);
    }

    /**
     * Decode an uncompressed body into tuples of registered types.
     * @param {Uint8Array} body
     * @returns {Tuple[]}
     */
    decodeBody(body) {
        if (!body.length) return [];
        let doc;
        try {
            doc = JSON.parse(strictDecoder.decode(body));
        } catch (e) {
            throw new DecodeError(`payload body is not valid JSON: ${/** @type {Error} */ (e).message}`);
        }
        try {
            return new BodyDecoder(doc).decode();
        } catch (e) {
            if (e instanceof RangeError) throw new DecodeError("payload body nests values too deeply");
            throw e;
        }
    }

    // ---- whole messages

    /**
     * An envelope for a message: its tuples encoded once (and compressed if large).
     * @param {MessageSpec} spec
     * @returns {Promise<Envelope>}
     */
    async makeEnvelope(spec) {
        const packed = await this.packBody(this.encodeBody(spec.tuples || []));
        return {
            filt: spec.filt || {},
            body: packed.body,
            compression: packed.compression,
            inflatedSize: packed.inflatedSize,
            result: spec.result ?? null,
            error: spec.error ?? null,
            messageId: spec.messageId ?? null,
            replyToId: spec.replyToId ?? null,
            destVortexName: spec.destVortexName ?? null,
            destVortexUuid: spec.destVortexUuid ?? null,
            originator: spec.originator ?? null,
        };
    }

    /**
     * The complete bytes of a message (header and body).
     * @param {MessageSpec} spec
     * @returns {Promise<Uint8Array>}
     */
    async encodeMessage(spec) {
        return this.encodeEnvelope(await this.makeEnvelope(spec));
    }

    /**
     * Inflate (within the limit) and decode an envelope's body.
     * @param {Envelope} envelope
     * @returns {Promise<Tuple[]>}
     */
    async decodeTuples(envelope) {
        return this.decodeBody(
            await this.unpackBody(envelope.body, envelope.compression, envelope.inflatedSize));
    }

    /**
     * Decode a complete message: its envelope and its tuples.
     * @param {Uint8Array | ArrayBuffer} data
     * @returns {Promise<{envelope: Envelope, tuples: Tuple[]}>}
     */
    async decodeMessage(data) {
        const envelope = this.decodeEnvelope(data);
        return {envelope, tuples: await this.decodeTuples(envelope)};
    }
}

/** The codec used when none is given. */
export const defaultCodec = new VortexCodec();

/**
 * ``{"_tt": type name, field: value}`` with values in their tagged wire forms; nested tuples
 * as ``{"~j": {...}}``, so the result stands alone (Python's ``Tuple.toJsonDict``).
 * @param {Tuple} obj
 * @returns {Record<string, unknown>}
 */
export function tupleToJsonDict(obj) {
    const info = tupleInfoForClass(obj.constructor);
    if (!info) {
        throw new EncodeError(`tuple class ${obj.constructor.name} is not registered; call addTupleType on it`);
    }
    const enc = new BodyEncoder(true);
    const source = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (obj));
    /** @type {Record<string, unknown>} */
    const out = {_tt: info.name};
    for (const field of info.fields) {
        try {
            out[field] = enc.convert(source[field]);
        } catch (e) {
            if (!(e instanceof EncodeError)) throw e;
            throw new EncodeError(`tuple type ${JSON.stringify(info.name)} field ${JSON.stringify(field)}: ${e.message}`);
        }
    }
    return out;
}

/**
 * Rebuild a registered tuple from {@link tupleToJsonDict} output (Python's ``fromJsonDict``).
 * @param {Record<string, unknown>} jsonDict
 * @returns {Tuple}
 */
export function tupleFromJsonDict(jsonDict) {
    if (!isPlainObject(jsonDict) || typeof jsonDict._tt !== "string") {
        throw new DecodeError("a tuple JSON dict needs a '_tt' type name");
    }
    const fields = Object.keys(jsonDict).filter((k) => k !== "_tt");
    const decoder = new JsonDictDecoder({T: [[jsonDict._tt, fields]], R: []}, true);
    return decoder.build(decoder.plans[0], fields.map((k) => jsonDict[k]));
}

/**
 * JSON with object keys sorted at every level, compact: orjson's ``OPT_SORT_KEYS`` output.
 * @param {unknown} value
 * @returns {string}
 */
export function sortedJson(value) {
    if (Array.isArray(value)) return `[${value.map(sortedJson).join(",")}]`;
    if (isPlainObject(value)) {
        const keys = Object.keys(value).sort();
        return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedJson(value[k])}`).join(",")}}`;
    }
    return JSON.stringify(value);
}

/**
 * A selector's stable key, the same string as Python's ``TupleSelector.toJsonStr()``.
 * @param {TupleSelector} selector
 */
export function selectorKey(selector) {
    const dict = tupleToJsonDict(selector);
    return sortedJson([dict.name, dict.selector]);
}

/**
 * Rebuild a selector from its key.
 * @param {string} key
 * @returns {TupleSelector}
 */
export function selectorFromKey(key) {
    const [name, selector] = JSON.parse(key);
    return /** @type {TupleSelector} */ (tupleFromJsonDict({_tt: TupleSelector.tupleType, name, selector}));
}
