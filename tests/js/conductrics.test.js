// Unit tests of the browser client, with Node's built-in runner and a stubbed fetch.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const Conductrics = require(path.join(__dirname, "..", "..", "static", "conductrics", "conductrics.js"));

function memoryStorage() {
  const data = {};
  return {
    getItem: (k) => (k in data ? data[k] : null),
    setItem: (k, v) => { data[k] = String(v); },
    data,
  };
}

function fakeDocument(cookie) {
  return { cookie: cookie || "" };
}

function answering(body, status = 200) {
  const calls = [];
  const fetch = (url, init) => {
    calls.push({ url: new URL(url, "http://test.local"), init });
    return Promise.resolve({ ok: status === 200, status, json: () => Promise.resolve(body) });
  };
  return { fetch, calls };
}

const SELECTED = { status: 200, data: { items: [{ a: "a-hero", c: "B", p: "r", s: "ok", md: {} }], sels: { "a-hero": "B" }, traits: [] } };

function client(extra) {
  return Conductrics.create(Object.assign({
    endpoint: "http://api.example/", account: "ac-demo", apiKey: "api-key",
    storage: memoryStorage(), document: fakeDocument(), timeout: 200,
  }, extra));
}

test("exec posts the commands as text/plain to the account's agent-api", async () => {
  const { fetch, calls } = answering(SELECTED);
  const data = await client({ fetch }).exec([{ a: "a-hero" }]);
  assert.deepEqual(data.sels, { "a-hero": "B" });
  const [{ url, init }] = calls;
  assert.equal(url.origin + url.pathname, "http://api.example/ac-demo/v3/agent-api");
  assert.equal(url.searchParams.get("apikey"), "api-key");
  assert.ok(url.searchParams.get("session").startsWith("s-"));
  assert.equal(url.searchParams.get("vid"), null);
  assert.equal(init.method, "POST");
  assert.equal(init.headers["Content-Type"], "text/plain");
  assert.deepEqual(JSON.parse(init.body), { commands: [{ a: "a-hero" }] });
});

test("the seed's preboot passes the cookie's id as vid", async () => {
  const { fetch, calls } = answering(SELECTED);
  const document = fakeDocument("other=1; our_visitor_id=lana123");
  const preboot = function (visitor_callback) {
    var vid;
    try {
      vid = document.cookie.match(/our_visitor_id=([\w]+)/)[1];
    } finally {
      visitor_callback({}, { vid: vid });
    }
  };
  await client({ fetch, preboot }).select("a-hero", "A");
  assert.equal(calls[0].url.searchParams.get("vid"), "lana123");
});

test("the seed's preboot without the cookie throws, and the visitor stays anonymous", async () => {
  const { fetch, calls } = answering(SELECTED);
  const document = fakeDocument("");
  const preboot = function (visitor_callback) {
    var vid;
    try {
      vid = document.cookie.match(/our_visitor_id=([\w]+)/)[1];
    } finally {
      visitor_callback({}, { vid: vid });
    }
  };
  assert.equal(await client({ fetch, preboot }).select("a-hero", "A"), "B");
  assert.equal(calls[0].url.searchParams.get("vid"), null);
});

test("a preboot that never calls back does not block the page", async () => {
  const { fetch, calls } = answering(SELECTED);
  const started = Date.now();
  assert.equal(await client({ fetch, preboot: () => {}, timeout: 400 }).select("a-hero", "A"), "B");
  assert.ok(Date.now() - started < 400);
  assert.equal(calls[0].url.searchParams.get("vid"), null);
});

test("traits from the preboot are sent as group:value pairs", async () => {
  const { fetch, calls } = answering(SELECTED);
  const preboot = (cb) => cb({ tier: "gold", region: "eu" }, { vid: "v1" });
  await client({ fetch, preboot }).exec([]);
  assert.equal(calls[0].url.searchParams.get("traits"), "tier:gold,region:eu");
  assert.equal(calls[0].url.searchParams.get("vid"), "v1");
});

test("select falls back when no selection is made, on HTTP errors and on network errors", async () => {
  const none = answering({ status: 200, data: { items: [], sels: {}, traits: [], warnings: [{ reason: "agent_stopped" }] } });
  assert.equal(await client({ fetch: none.fetch }).select("a-hero", "A"), "A");
  const refused = answering({ status: 401, err: "Unknown runtime API key or account." }, 401);
  assert.equal(await client({ fetch: refused.fetch }).select("a-hero", "A"), "A");
  const broken = () => Promise.reject(new TypeError("Failed to fetch"));
  assert.equal(await client({ fetch: broken }).select("a-hero", "A"), "A");
  const garbage = () => Promise.resolve({ ok: true, status: 200, json: () => Promise.reject(new SyntaxError("bad")) });
  assert.equal(await client({ fetch: garbage }).select("a-hero", "A"), "A");
});

test("select resolves to the fallback within the time-out when the API hangs", async () => {
  let aborted = false;
  class Controller { constructor() { this.signal = {}; } abort() { aborted = true; } }
  const hanging = () => new Promise(() => {});
  const started = Date.now();
  const variation = await client({ fetch: hanging, timeout: 150, AbortController: Controller }).select("a-hero", "A");
  const elapsed = Date.now() - started;
  assert.equal(variation, "A");
  assert.ok(elapsed >= 140 && elapsed < 1000, `took ${elapsed} ms`);
  assert.ok(aborted);
});

test("exec rejects on errors, so callers can tell", async () => {
  const refused = answering({ status: 400, err: "Command 0: bad" }, 400);
  await assert.rejects(client({ fetch: refused.fetch }).exec([{ a: 5 }]), /Command 0: bad/);
});

test("goal sends its value and resolves to the goal item, or null on failure", async () => {
  const item = { g: "g-buy", s: "ok", rs: [{ a: "a-hero", c: "B", v: 5 }] };
  const ok = answering({ status: 200, data: { items: [item], sels: {}, traits: [] } });
  assert.deepEqual(await client({ fetch: ok.fetch }).goal("g-buy", 5), item);
  assert.deepEqual(JSON.parse(ok.calls[0].init.body), { commands: [{ g: "g-buy", v: 5 }] });
  const defaultValue = answering({ status: 200, data: { items: [item], sels: {}, traits: [] } });
  await client({ fetch: defaultValue.fetch }).goal("g-buy");
  assert.deepEqual(JSON.parse(defaultValue.calls[0].init.body), { commands: [{ g: "g-buy" }] });
  const broken = () => Promise.reject(new Error("down"));
  assert.equal(await client({ fetch: broken }).goal("g-buy", 5), null);
});

test("the session id is kept in localStorage and reused", async () => {
  const storage = memoryStorage();
  const first = client({ storage, fetch: answering(SELECTED).fetch });
  const second = client({ storage, fetch: answering(SELECTED).fetch });
  assert.equal(first.session, second.session);
  assert.equal(storage.data.conductrics_session, first.session);
});

test("without localStorage the session id falls back to a cookie", async () => {
  const throwing = { getItem() { throw new Error("SecurityError"); }, setItem() { throw new Error("SecurityError"); } };
  const document = fakeDocument("");
  const first = client({ storage: throwing, document });
  assert.match(document.cookie, /conductrics_session=s-/);
  const second = client({ storage: throwing, document: fakeDocument(document.cookie.split(";")[0]) });
  assert.equal(second.session, first.session);
});

test("without fetch, select still resolves to the fallback", async () => {
  assert.equal(await client({ fetch: null }).select("a-hero", "A"), "A");
});

test("the agent-api's warnings reach the console, each once per page", async () => {
  const logged = [];
  const warned = { status: 200, data: { items: [], sels: {}, traits: [], warnings: [
    { reason: "vid_ignored", detail: "enable Allow Passing of External Visitor ID" },
    { reason: "unknown_agent", a: "a-nope", detail: "no agent a-nope" },
  ] } };
  const { fetch } = answering(warned);
  const c = client({ fetch, console: { warn: (text) => logged.push(text) } });
  await c.exec([{ a: "a-nope" }]);
  await c.exec([{ a: "a-nope" }]);
  assert.deepEqual(logged, [
    "Conductrics: vid_ignored: enable Allow Passing of External Visitor ID",
    "Conductrics: unknown_agent (a-nope): no agent a-nope",
  ]);
});

test("without a console, warnings are dropped quietly", async () => {
  const { fetch } = answering({ status: 200, data: { items: [], sels: {}, traits: [],
    warnings: [{ reason: "vid_invalid" }] } });
  const data = await client({ fetch, console: null }).exec([]);
  assert.deepEqual(data.warnings, [{ reason: "vid_invalid" }]);
});

test("alias goes first in the request of the selection asked right after it", async () => {
  const { fetch, calls } = answering({ status: 200, data: {
    items: [{ alias: "cust-1", s: "ok" }, { a: "a-hero", c: "B", p: "s", s: "ok", md: {} }],
    sels: { "a-hero": "B" }, traits: [] } });
  const preboot = (cb) => cb({}, { vid: "cookie-1" });
  const c = client({ fetch, preboot });
  const linked = c.alias("cust-1");
  const variation = await c.select("a-hero", "A");
  assert.equal(variation, "B");
  assert.deepEqual(await linked, { alias: "cust-1", s: "ok" });
  assert.equal(calls.length, 1);
  assert.deepEqual(JSON.parse(calls[0].init.body).commands, [{ alias: "cust-1" }, { a: "a-hero" }]);
  assert.equal(calls[0].url.searchParams.get("vid"), "cookie-1");
});

test("alias alone is sent on its own, and a goal after it still answers its own item", async () => {
  const { fetch, calls } = answering({ status: 200, data: {
    items: [{ alias: "cust-1", s: "err", err: "alias_taken" }], sels: {}, traits: [] } });
  const c = client({ fetch, preboot: (cb) => cb({}, { vid: "cookie-1" }) });
  assert.deepEqual(await c.alias("cust-1"), { alias: "cust-1", s: "err", err: "alias_taken" });
  assert.equal(calls.length, 1);
  assert.deepEqual(JSON.parse(calls[0].init.body).commands, [{ alias: "cust-1" }]);
});

test("alias resolves to null when the agent-api fails, and never rejects", async () => {
  const { fetch } = answering({ status: 503, err: "down" }, 503);
  const c = client({ fetch, preboot: (cb) => cb({}, { vid: "cookie-1" }) });
  assert.equal(await c.alias("cust-1"), null);
});
