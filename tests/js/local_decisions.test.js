// The browser client's local decisions against the shared vectors (SPEC §5): the file the
// server's tests pass too (tests/runtime/test_local_vectors.py). CONDUCTRICS_JS names
// another build of the client to test (the minified one collectstatic writes).
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");

const CLIENT = process.env.CONDUCTRICS_JS ||
  path.join(__dirname, "..", "..", "static", "conductrics", "conductrics.js");
const { local } = require(CLIENT);
const VECTORS = JSON.parse(
  fs.readFileSync(path.join(__dirname, "..", "vectors", "local_decisions.json"), "utf8"));

const hex = (words) => words.map((w) => (w >>> 0).toString(16).padStart(8, "0")).join("");

function each(section, check) {
  const cases = VECTORS[section];
  assert.ok(cases.length > 5, `${section}: vectors present`);
  const wrong = [];
  cases.forEach((c, i) => {
    try { check(c); } catch (error) { wrong.push(`#${i} ${JSON.stringify(c).slice(0, 200)}: ${error.message}`); }
  });
  assert.deepEqual(wrong, [], `${wrong.length} of ${cases.length} ${section} vectors differ`);
}

test("sha256 matches the vectors", () => {
  each("sha256", (c) => assert.equal(hex(local.sha256(c.text)), c.hex));
});

test("sha256 matches Node's crypto over random text (block edges, every UTF-8 length)", () => {
  const alphabet = ["a", "é", "€", "😀", "\u0000", "\x1f", "日", " "];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  for (let n = 0; n < 400; n++) {
    let text = "";
    const length = n < 200 ? n : next() % 3000;
    while (text.length < length) text += alphabet[next() % alphabet.length];
    assert.equal(hex(local.sha256(text)), crypto.createHash("sha256").update(text, "utf8").digest("hex"), JSON.stringify(text));
  }
});

test("bucket points are the server's, to the last bit", () => {
  each("bucket", (c) => assert.equal(local.bucketPoint(c.code, c.identity), c.point));
});

test("weighted picks, awkward floats and zero weights included", () => {
  each("pick", (c) => {
    const items = c.weights.map((w, i) => ({ w, i }));
    const picked = local.pick(c.code, c.identity, items, (x) => x.w);
    assert.equal(picked === null ? null : picked.i, c.index);
  });
});

test("random numbers 1 to 100", () => {
  each("random", (c) => assert.equal(local.randomNumber(c.code, c.identity), c.number));
});

test("identity: the vid when passed, valid and allowed, else the session", () => {
  each("identity", (c) => assert.equal(local.identity(c.session, c.vid, c.vid_allowed), c.identity));
});

test("traits as conditions read them; refused as a whole when one part is malformed", () => {
  each("traits", (c) => assert.deepEqual(local.traitsFacts(c.raw), c.facts));
});

test("inputs the server takes, and none when it would not", () => {
  each("inputs", (c) => assert.deepEqual(local.inputsFacts(c.inputs) || {}, c.facts));
});

test("numbers as lt/lte/gt/gte read them", () => {
  each("numbers", (c) => assert.ok(Object.is(local.numberRead(c.value), c.number), String(local.numberRead(c.value))));
});

test("conditions: every operator, absent values, ci, nesting", () => {
  each("conditions", (c) => {
    const facts = { inputs: c.inputs, traits: c.traits, target: c.target, identity: c.identity };
    assert.equal(local.holds(c.when, facts, c.agent), c.holds);
  });
});

test("decisions from the bundle are the server's", () => {
  const bundle = VECTORS.bundle;
  each("decisions", (c) => {
    const identity = local.identity(c.session, c.vid === undefined ? null : c.vid, bundle.vid);
    const facts = {
      identity, target: bundle.target,
      inputs: local.inputsFacts(c.inputs) || {}, traits: local.traitsFacts(c.traits || ""),
    };
    const d = local.decide(bundle, c.agent, facts, c.before || null, c.c || null, c.x || null);
    if (d.server) {
      assert.ok(bundle.agents[c.agent].server_only);
    } else if (d.none) {
      assert.ok(c.expect.none, `local: none (${d.none}), server: ${JSON.stringify(c.expect)}`);
      if (d.none !== "unknown") assert.equal(d.none, c.expect.none);
    } else {
      assert.deepEqual(d, c.expect);
    }
  });
  const kinds = new Set(VECTORS.decisions.map((c) => Object.keys(c.expect)[0] + (c.expect.policy || "")));
  assert.ok(kinds.size >= 4, [...kinds].join(","));
});
