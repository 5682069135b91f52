// The client's local mode (SPEC §5) with a stubbed fetch and sendBeacon: synchronous
// decisions from a kept bundle, batched reports, the server's answer winning, pagehide.
"use strict";
const test = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const Conductrics = require(path.join(__dirname, "..", "..", "static", "conductrics", "conductrics.js"));

function memoryStorage(data = {}) {
  return { getItem: (k) => (k in data ? data[k] : null), setItem: (k, v) => { data[k] = String(v); }, data };
}

const BUNDLE = {
  format: 1, account: "ac-demo", target: "dt-web", version: 3, vid: true, max_age: 60, groups: {},
  agents: {
    "a-hero": { status: "running", variations: [{ code: "A", weight: 1, md: {} }, { code: "B", weight: 1, md: {} }],
      paused: "A", eligibility: null, rules: [], group: null },
    "a-pro": { status: "running", variations: [{ code: "A", weight: 1, md: {} }, { code: "B", weight: 0, md: {} }],
      paused: "A", rules: [], group: null,
      eligibility: { source: "input", name: "plan", op: "eq", value: "pro" } },
    "a-paused": { status: "paused", variations: [{ code: "A", weight: 1, md: {} }, { code: "B", weight: 1, md: {} }],
      paused: "B", eligibility: null, rules: [], group: null },
    "a-returning": { status: "running", server_only: "its conditions read the visitor's goals" },
  },
};

function server(answer) {
  const calls = [];
  const fetch = (url, init) => {
    const u = new URL(url);
    calls.push({ url: u, init, body: init && init.body ? JSON.parse(init.body) : null });
    if (u.pathname.includes("/js/")) {
      return Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve(BUNDLE) });
    }
    const commands = JSON.parse(init.body).commands;
    const items = commands.map((c) => (answer ? answer(c) : c.a ? { a: c.a, c: c.c ? c.c[0] : "A", p: "r", s: "ok", md: {} } : { g: c.g, s: "ok", rs: [] }));
    return Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve({ status: 200, data: { items, sels: {}, traits: [] } }) });
  };
  return { fetch, calls, posts: () => calls.filter((c) => c.init && c.init.method === "POST") };
}

function page(extra) {
  return Conductrics.create(Object.assign({
    endpoint: "http://api.example", account: "ac-demo", apiKey: "api-key", target: "dt-web",
    local: true, batchDelay: 5, timeout: 500, document: { cookie: "" }, console: null,
    preboot: (cb) => cb({}, { vid: "lana-123" }),
  }, extra));
}

const warm = () => memoryStorage({ "conductrics_bundle:ac-demo:dt-web": JSON.stringify({ at: Date.now(), bundle: BUNDLE }) });
const wait = (ms) => new Promise((r) => setTimeout(r, ms));

test("with a kept bundle, variation() answers synchronously, as the server's hash does, with no request", () => {
  const { fetch, calls } = server();
  const client = page({ fetch, storage: warm() });
  const variation = client.variation("a-hero", "A");
  const expected = Conductrics.local.decide(BUNDLE, "a-hero", { identity: "v:lana-123", inputs: {}, traits: {}, target: "dt-web" });
  assert.equal(variation, expected.variation);
  assert.equal(calls.length, 0); // a fresh bundle: not even a refresh
});

test("decisions and goals are reported in one batch, with the preboot's vid, as restricted selections", async () => {
  const { fetch, posts } = server();
  const client = page({ fetch, storage: warm(), inputs: { plan: "pro" } });
  const hero = client.variation("a-hero", "A");
  assert.equal(client.variation("a-pro", "A"), "A");
  const goal = client.goal("g-signup", 2);
  await wait(30);
  assert.equal(posts().length, 1);
  const [{ url, body, init }] = posts();
  assert.equal(url.searchParams.get("vid"), "lana-123");
  assert.equal(init.headers["Content-Type"], "text/plain");
  assert.equal(init.keepalive, true);
  assert.deepEqual(body, { commands: [{ a: "a-hero", c: [hero] }, { a: "a-pro", c: ["A"] }, { g: "g-signup", v: 2 }], inputs: { plan: "pro" } });
  assert.deepEqual(await goal, { g: "g-signup", s: "ok", rs: [] });
});

test("the next page repeats the decision from storage and does not report it again", async () => {
  const { fetch, posts } = server();
  const storage = warm();
  const first = page({ fetch, storage }).variation("a-hero", "A");
  await wait(30);
  const second = page({ fetch, storage });
  assert.equal(second.variation("a-hero", "A"), first);
  await wait(30);
  assert.equal(posts().length, 1);
});

test("the server's answer wins when it holds another assignment: kept for later pages, counted", async () => {
  const storage = warm();
  const local = page({ fetch: server().fetch, storage: warm() }).variation("a-hero", "A");
  const other = local === "A" ? "B" : "A";
  const { fetch } = server((c) => (c.a ? { a: c.a, c: other, p: "s", s: "ok", md: {} } : null));
  const client = page({ fetch, storage });
  assert.equal(client.variation("a-hero", "A"), local);
  await wait(30);
  assert.equal(client.overruled, 1);
  assert.equal(page({ fetch, storage }).variation("a-hero", "A"), other);
});

test("on pagehide what is queued goes by sendBeacon, as text/plain", async () => {
  const beacons = [];
  const { fetch, posts } = server();
  const client = page({
    fetch, storage: warm(), batchDelay: 10000,
    sendBeacon: (url, blob) => { beacons.push({ url: new URL(url), blob }); return true; },
  });
  client.variation("a-hero", "A");
  client.goal("g-signup");
  client.flush(true); // what the pagehide listener calls
  assert.equal(posts().length, 0);
  assert.equal(beacons.length, 1);
  assert.equal(beacons[0].blob.type, "text/plain");
  assert.equal(beacons[0].url.searchParams.get("vid"), "lana-123");
  const body = JSON.parse(await beacons[0].blob.text());
  assert.deepEqual(body.commands.map((c) => c.a || c.g), ["a-hero", "g-signup"]);
});

test("paused, not eligible and unknown agents: nothing reported; paused gives its paused variation", async () => {
  const { fetch, posts } = server();
  const client = page({ fetch, storage: warm() });
  assert.equal(client.variation("a-paused", "A"), "B");
  assert.equal(client.variation("a-pro", "X"), "X"); // no plan input: not eligible
  assert.equal(client.variation("a-nothing", "X"), "X");
  await wait(30);
  assert.equal(posts().length, 0);
});

test("a server-only agent: variation() falls back, select() asks the agent-api, later pages repeat its answer", async () => {
  const { fetch, posts } = server((c) => ({ a: c.a, c: "B", p: "r", s: "ok", md: {} }));
  const storage = warm();
  const client = page({ fetch, storage });
  assert.equal(client.variation("a-returning", "A"), "A");
  assert.equal(await client.select("a-returning", "A"), "B");
  assert.deepEqual(posts()[0].body.commands, [{ a: "a-returning" }]);
  assert.equal(page({ fetch, storage }).variation("a-returning", "A"), "B");
});

test("first visit: no bundle yet, variation() falls back; ready() loads it, then it decides", async () => {
  const { fetch, calls } = server();
  const storage = memoryStorage();
  const client = page({ fetch, storage });
  assert.equal(client.variation("a-hero", "fallback"), "fallback");
  await client.ready();
  assert.ok(["A", "B"].includes(client.variation("a-hero", "fallback")));
  assert.equal(calls[0].url.pathname, "/ac-demo/v3/agent-api/js/dt-web");
  assert.equal(calls[0].url.searchParams.get("apikey"), "api-key");
  assert.ok(JSON.parse(storage.data["conductrics_bundle:ac-demo:dt-web"]).bundle.agents["a-hero"]);
});

test("a stale bundle still decides at once, and is refreshed in the background", async () => {
  const { fetch, calls } = server();
  const storage = memoryStorage({ "conductrics_bundle:ac-demo:dt-web": JSON.stringify({ at: Date.now() - 61000, bundle: BUNDLE }) });
  const client = page({ fetch, storage });
  assert.ok(["A", "B"].includes(client.variation("a-hero", "X")));
  await wait(10);
  assert.equal(calls.filter((c) => c.url.pathname.includes("/js/")).length, 1);
  assert.ok(JSON.parse(storage.data["conductrics_bundle:ac-demo:dt-web"]).at > Date.now() - 1000);
});

test("inputs the server would refuse are not sent, and conditions see none", async () => {
  const { fetch, posts } = server();
  const client = page({ fetch, storage: warm(), inputs: { plan: "pro", "bad key": "x" } });
  assert.equal(client.variation("a-pro", "X"), "X");
  client.variation("a-hero", "A");
  await wait(30);
  assert.equal(posts()[0].body.inputs, undefined);
});

test("the bundle unavailable: variation() falls back and nothing breaks", async () => {
  const fetch = () => Promise.reject(new Error("offline"));
  const client = page({ fetch, storage: memoryStorage() });
  assert.equal(await client.ready(), null);
  assert.equal(client.variation("a-hero", "A"), "A");
  assert.equal(await client.select("a-hero", "A"), "A");
});
