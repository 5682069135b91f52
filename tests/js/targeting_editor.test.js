// The targeting editor's reading of conditions as rows, and back (node --test).
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const editor = require(path.join(__dirname, "..", "..", "static", "conductrics", "targeting_editor.js"));

const GOLD = { source: "input", name: "plan", op: "eq", value: "gold" };
const LOW = { source: "random", op: "lte", value: 20 };

test("flat conditions read as rows and write back the same JSON", () => {
  for (const condition of [null, GOLD, { all: [GOLD, LOW] }, { any: [GOLD, LOW] }]) {
    const rows = editor.asRows(condition);
    assert.notEqual(rows, null);
    assert.deepEqual(editor.fromRows(rows), condition);
  }
});

test("what rows cannot say is left to the JSON field", () => {
  for (const condition of [
    { not: GOLD },
    { all: [GOLD, { any: [GOLD, LOW] }] },
    { ...GOLD, ci: true },
    { all: [GOLD], any: [LOW] },
    { all: "x" },
  ]) {
    assert.equal(editor.asRows(condition), null, JSON.stringify(condition));
  }
});

test("no leaves, or always, is no condition", () => {
  assert.equal(editor.fromRows({ mode: "all", leaves: [] }), null);
  assert.equal(editor.fromRows({ mode: "always", leaves: [GOLD] }), null);
});
