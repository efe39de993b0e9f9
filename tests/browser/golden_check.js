// Run in a page by tests/browser/test_golden_browser.py: checks the served JavaScript codec
// against the golden vectors (tests/vortex/golden_vectors.json; typed JSON as golden.py says).
// A function expression: page.evaluate calls it with the vectors document.
async (vectors) => {
    const v = await import("/peek/vortex.js");
    for (const [name, fields] of Object.entries(vectors.types)) {
        if (v.tupleInfoForName(name)) continue;
        const cls = class extends v.Tuple {
            constructor() {
                super();
                for (const f of fields) this[f] = null;
            }
        };
        cls.tupleType = name;
        v.addTupleType(cls);
    }

    const build = (d) => {
        if (Array.isArray(d)) return d.map(build);
        if (d === null || typeof d !== "object") return d;
        const keys = Object.keys(d);
        if (keys.length === 1 && keys[0].startsWith("$")) {
            const inner = d[keys[0]];
            switch (keys[0]) {
                case "$tuple": {
                    const info = v.tupleInfoForName(inner[0]);
                    const obj = new info.cls();
                    for (const f of info.fields) obj[f] = f in inner[1] ? build(inner[1][f]) : null;
                    return obj;
                }
                case "$datetime": return v.isoToDate(inner);
                case "$date": return new v.DateOnly(inner);
                case "$bytes": return v.base64ToBytes(inner);
                case "$decimal": return new v.Decimal(inner);
                case "$int": return BigInt(inner);
                case "$float": return Number(inner);
                case "$dict": return Object.fromEntries(Object.entries(inner).map(([k, x]) => [k, build(x)]));
            }
            throw new Error(`unknown typed value ${keys[0]}`);
        }
        return Object.fromEntries(keys.map((k) => [k, build(d[k])]));
    };

    const describe = (x) => {
        if (x === null || typeof x === "string" || typeof x === "boolean") return x;
        if (typeof x === "number") {
            return Number.isFinite(x) ? x : {"$float": Number.isNaN(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity"};
        }
        if (typeof x === "bigint") return {"$int": x.toString()};
        if (Array.isArray(x)) return x.map(describe);
        if (x instanceof Date) return {"$datetime": v.dateToIso(x)};
        if (x instanceof v.DateOnly) return {"$date": x.iso};
        if (x instanceof Uint8Array) return {"$bytes": v.bytesToBase64(x)};
        if (x instanceof v.Decimal) return {"$decimal": x.value};
        if (x instanceof v.Tuple) {
            const fields = {};
            for (const [k, y] of Object.entries(x.tupleToDict())) fields[k] = describe(y);
            return {"$tuple": [x.tupleType(), fields]};
        }
        const out = {};
        for (const k of Object.keys(x)) out[k] = describe(x[k]);
        const keys = Object.keys(out);
        return keys.length === 1 && keys[0].startsWith("$") ? {"$dict": out} : out;
    };

    const fromB64 = (s) => v.base64ToBytes(s);
    const results = [];
    for (const vector of vectors.messages) {
        const result = {name: vector.name, problems: []};
        const codec = new v.VortexCodec({compressThreshold: vector.compressThreshold ?? 16384});
        try {
            const {envelope, tuples} = await codec.decodeMessage(fromB64(vector.base64));
            const header = {filt: envelope.filt};
            for (const f of ["messageId", "replyToId", "destVortexName", "destVortexUuid", "result", "error", "originator"]) {
                if (envelope[f] != null) header[f] = envelope[f];
            }
            const wantHeader = Object.fromEntries(Object.entries(vector.header).filter(([, x]) => x != null));
            if (JSON.stringify(header) !== JSON.stringify(wantHeader)) {
                result.problems.push(`decoded header ${JSON.stringify(header)} != ${JSON.stringify(wantHeader)}`);
            }
            const got = JSON.stringify(describe(tuples));
            const want = JSON.stringify(vector.jsTuples ?? vector.tuples);
            if (got !== want) result.problems.push(`decoded tuples ${got} != ${want}`);
            if ((envelope.compression === "deflate") !== vector.compressed) {
                result.problems.push(`compression ${envelope.compression} but compressed=${vector.compressed}`);
            }
        } catch (e) {
            result.problems.push(`decode failed: ${e}`);
        }
        if (vector.jsEncode !== "none") {
            try {
                const h = vector.header;
                const bytes = await codec.encodeMessage({
                    filt: h.filt, tuples: build(vector.tuples), result: h.result, error: h.error,
                    messageId: h.messageId, replyToId: h.replyToId, destVortexName: h.destVortexName,
                    destVortexUuid: h.destVortexUuid, originator: h.originator,
                });
                result.encoded = v.bytesToBase64(bytes);
                if (vector.jsEncode === "exact" && result.encoded !== vector.base64) {
                    result.problems.push(`encoded ${new TextDecoder().decode(bytes)} != ` +
                        new TextDecoder().decode(fromB64(vector.base64)));
                }
            } catch (e) {
                result.problems.push(`encode failed: ${e}`);
            }
        }
        results.push(result);
    }
    for (const entry of vectors.selectorKeys) {
        const key = v.selectorKey(build(entry.selector));
        const problems = key === entry.key ? [] : [`selector key ${key} != ${entry.key}`];
        // Rebuilt from the key, the selector's keys come sorted: compare sorted.
        const back = v.sortedJson(describe(v.selectorFromKey(entry.key)));
        if (back !== v.sortedJson(entry.selector)) problems.push(`selector from key ${back}`);
        results.push({name: `selector ${entry.key}`, problems});
    }
    for (const entry of vectors.jsonDicts) {
        const problems = [];
        const dict = JSON.stringify(v.tupleToJsonDict(build(entry.tuple)));
        if (dict !== JSON.stringify(entry.jsonDict)) problems.push(`toJsonDict ${dict} != ${JSON.stringify(entry.jsonDict)}`);
        const back = JSON.stringify(describe(v.tupleFromJsonDict(entry.jsonDict)));
        if (back !== JSON.stringify(entry.tuple)) problems.push(`fromJsonDict ${back} != ${JSON.stringify(entry.tuple)}`);
        results.push({name: `json dict ${entry.tuple.$tuple[0]}`, problems});
    }
    return results;
}
