/**
 * @file Tuples in the browser: typed records with declared fields, and the registry the
 * codec builds them from (the JavaScript side of ``peek_vortex.tuples``).
 *
 * Declare a tuple class with its wire type name and its fields as class fields (their
 * initialisers are the defaults, evaluated for every new tuple), then register it:
 *
 *     export class StringIntTuple extends Tuple {
 *         static tupleType = "peek_plugin_tutorial.StringIntTuple";
 *         id = null;        // (give each field a JSDoc type for the type check)
 *         string1 = null;
 *         int1 = null;
 *     }
 *     addTupleType(StringIntTuple);
 *     const row = StringIntTuple.create({string1: "a", int1: 1});
 *
 * The field list is the class fields in declaration order, base classes first, exactly
 * as Python lists ``TupleField``s; it must match the Python class's fields (a field the
 * Python side does not declare is refused by its decoder).
 */

/** Raised for a tuple class that cannot be registered or is used unregistered. */
export class TupleTypeError extends Error {
    /** @param {string} message */
    constructor(message) {
        super(message);
        this.name = "TupleTypeError";
    }
}

/**
 * Base class of every record the bus carries. Subclasses set ``static tupleType`` and
 * declare their fields as class fields; construct them with ``new`` (defaults) or
 * ``Cls.create({...})`` (defaults, then the given values).
 */
export class Tuple {
    /** The registered wire type name (a subclass must set its own). */
    static tupleType = "";

    /**
     * A new tuple of this class with ``values`` set over the defaults. An unknown field
     * name throws (a typo would otherwise travel silently and be refused by the server).
     * @template {Tuple} T
     * @this {new () => T}
     * @param {Partial<T>} [values]
     * @returns {T}
     */
    static create(values) {
        const obj = new this();
        if (values) {
            const fields = tupleFieldNames(/** @type {TupleClass} */ (/** @type {unknown} */ (this)));
            for (const [key, value] of Object.entries(values)) {
                if (!fields.includes(key)) {
                    throw new TupleTypeError(
                        `${tupleTypeOf(obj)} has no tuple field ${JSON.stringify(key)}`);
                }
                /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (obj))[key] = value;
            }
        }
        return obj;
    }

    /** The registered type name of this tuple. @returns {string} */
    tupleType() {
        return tupleTypeOf(this);
    }

    /** The field values as a plain object (values are not converted). @returns {Record<string, unknown>} */
    tupleToDict() {
        /** @type {Record<string, unknown>} */
        const out = {};
        const self = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (this));
        for (const field of tupleFieldNames(/** @type {TupleClass} */ (this.constructor))) {
            out[field] = self[field];
        }
        return out;
    }
}

/** @typedef {{new (): Tuple, tupleType: string, prototype: Tuple}} TupleClass */

/**
 * What the codec knows about one registered class.
 * @typedef {object} TupleInfo
 * @property {TupleClass} cls
 * @property {string} name
 * @property {string[]} fields
 * @property {Set<string>} fieldSet
 */

/** @type {Map<string, TupleInfo>} */
const byName = new Map();
/** @type {Map<Function, TupleInfo>} */
const byClass = new Map();

/**
 * Register a tuple class so the codec can encode and decode it. Registering a second
 * class under a name already taken throws, naming the name; registering the same class
 * again is harmless.
 * @template {TupleClass} C
 * @param {C} cls
 * @returns {C}
 */
export function addTupleType(cls) {
    if (typeof cls !== "function" || !(cls.prototype instanceof Tuple)) {
        throw new TupleTypeError(`addTupleType needs a Tuple subclass, got ${String(cls)}`);
    }
    const name = Object.prototype.hasOwnProperty.call(cls, "tupleType") ? cls.tupleType : "";
    if (typeof name !== "string" || !name) {
        throw new TupleTypeError(
            `${cls.name} must set static tupleType to a non-empty string in its own class body`);
    }
    const existing = byName.get(name);
    if (existing) {
        if (existing.cls === cls) return cls;
        throw new TupleTypeError(
            `tuple type ${JSON.stringify(name)} is already registered by class ` +
            `${existing.cls.name}; ${cls.name} cannot take it too`);
    }
    const fields = Object.keys(new cls());
    for (const field of fields) {
        if (field.startsWith("_")) {
            throw new TupleTypeError(
                `tuple type ${JSON.stringify(name)} (${cls.name}): field ${JSON.stringify(field)} ` +
                "starts with '_'; tuple fields must be public names");
        }
    }
    const info = {cls, name, fields, fieldSet: new Set(fields)};
    byName.set(name, info);
    byClass.set(cls, info);
    return cls;
}

/** The registered info for a type name, or undefined. @param {string} name */
export function tupleInfoForName(name) {
    return byName.get(name);
}

/** The registered info for a class, or undefined. @param {Function} cls */
export function tupleInfoForClass(cls) {
    return byClass.get(cls);
}

/** Every registered type name, sorted. @returns {string[]} */
export function registeredTupleNames() {
    return [...byName.keys()].sort();
}

/** The declared field names of a registered class, in wire order. @param {TupleClass} cls */
export function tupleFieldNames(cls) {
    const info = byClass.get(cls);
    return info ? info.fields : Object.keys(new cls());
}

/** The registered type name of a tuple (throws if its class is not registered). @param {Tuple} obj */
export function tupleTypeOf(obj) {
    const info = byClass.get(obj.constructor);
    if (!info) {
        throw new TupleTypeError(
            `tuple class ${obj.constructor.name} is not registered; call addTupleType on it`);
    }
    return info.name;
}

/** A random version 4 UUID; works outside secure contexts (plain http on a LAN) too. */
export function randomUuid() {
    const c = globalThis.crypto;
    if (typeof c.randomUUID === "function" && globalThis.isSecureContext) return c.randomUUID();
    const b = c.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * ``TupleSelector(name, selector)``: which tuples an observer wants (``vortex.TupleSelector``).
 * Its key (``toJsonStr``) is the same string Python computes for the same selector.
 */
export class TupleSelector extends Tuple {
    static tupleType = "vortex.TupleSelector";
    /** @type {string | null} */ name = null;
    /** @type {Record<string, unknown>} */ selector = {};

    /**
     * @param {string} name
     * @param {Record<string, unknown>} [selector]
     */
    static of(name, selector = {}) {
        return TupleSelector.create({name, selector});
    }
}
addTupleType(TupleSelector);

/**
 * Base class of action tuples: a unique id (``uuid``, reused on every retry so the server
 * applies the action once) and the creation time (``dateTime``).
 */
export class TupleActionABC extends Tuple {
    /** @type {string} */ uuid = randomUuid();
    /** @type {Date} */ dateTime = new Date();
}

/** ``vortex.TupleGenericAction``: a named action with free-form data. */
export class TupleGenericAction extends TupleActionABC {
    static tupleType = "vortex.TupleGenericAction";
    /** @type {string | null} */ key = null;
    /** @type {unknown} */ data = null;
}
addTupleType(TupleGenericAction);

/** ``vortex.TupleUpdateAction``: an edit of tuples of one type. */
export class TupleUpdateAction extends TupleActionABC {
    static tupleType = "vortex.TupleUpdateAction";
    /** @type {string | null} */ tupleTypeName = null;
    /** @type {TupleSelector | null} */ tupleSelector = null;
    /** @type {unknown[]} */ tupleIds = [];
    /** @type {Record<string, unknown>} */ data = {};
}
addTupleType(TupleUpdateAction);

/** ``vortex.rpc.Args``: the arguments of one RPC call. */
export class RpcArgsTuple extends Tuple {
    static tupleType = "vortex.rpc.Args";
    /** @type {unknown[]} */ args = [];
    /** @type {Record<string, unknown>} */ kwargs = {};
}
addTupleType(RpcArgsTuple);

/** ``vortex.rpc.Result``: the return value of one RPC call. */
export class RpcResultTuple extends Tuple {
    static tupleType = "vortex.rpc.Result";
    /** @type {unknown} */ result = null;
}
addTupleType(RpcResultTuple);
