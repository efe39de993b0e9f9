"""The wire format decodes with web-standard APIs only (run in Node as a browser stand-in)."""

import json
import shutil
import subprocess

import pytest

from peek_plugin_base.vortex import Payload, Tuple, TupleField
from peek_vortex.wire import VortexCodec

# Only APIs a browser page has: TextDecoder, DecompressionStream, Response, JSON.
BROWSER_DECODER = r"""
async function decodeVortexMsg(bytes) {
  const end = bytes.indexOf(10);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(0, end)));
  let body = bytes.subarray(end + 1);
  if (header.z === "deflate") {
    const stream = new Blob([body]).stream().pipeThrough(new DecompressionStream("deflate"));
    body = new Uint8Array(await new Response(stream).arrayBuffer());
  }
  const doc = body.length ? JSON.parse(new TextDecoder().decode(body)) : {T: [], R: []};
  const tuples = [];
  for (const run of doc.R) {
    const [name, fields] = doc.T[run[0]];
    for (const row of run.slice(1)) {
      const t = {_tt: name};
      fields.forEach((f, i) => { t[f] = row[i]; });
      tuples.push(t);
    }
  }
  return {filt: header.f, result: header.s ?? null, tuples};
}
const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", async () => {
  const out = await decodeVortexMsg(new Uint8Array(Buffer.concat(chunks)));
  process.stdout.write(JSON.stringify(out));
});
"""


class Reading(Tuple):
    __tupleType__ = "test.browser.Reading"
    sensor = TupleField()
    value = TupleField()
    labels = TupleField(defaultValue=dict)


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to stand in for a browser")
@pytest.mark.parametrize("threshold", [0, 10**9], ids=["deflated", "plain"])
def test_browser_apis_decode_a_message(register, threshold):
    """A page's own JS (no libraries, no build) reads header, inflates and parses tuples."""
    register(Reading)
    tuples = [Reading(sensor=f"s{i}", value=i / 4, labels={"1": "one"}) for i in range(300)]
    codec = VortexCodec(compress_threshold=threshold)
    msg = Payload({"key": "readings"}, tuples, result="ok").toVortexMsg(codec)
    assert (b'"z":"deflate"' in msg) == (threshold == 0)
    out = subprocess.run(
        ["node", "-e", BROWSER_DECODER], input=msg, capture_output=True, check=True, timeout=60
    ).stdout
    decoded = json.loads(out)
    assert decoded["filt"] == {"key": "readings"} and decoded["result"] == "ok"
    assert decoded["tuples"][7] == {
        "_tt": "test.browser.Reading", "sensor": "s7", "value": 1.75, "labels": {"1": "one"}
    }
    assert len(decoded["tuples"]) == 300
