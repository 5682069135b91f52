// Unit tests of the Node.js server-side client, against a small local HTTP server (the
// conformance scenarios against the product run from tests/clients/).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import http from "node:http";
import { test } from "node:test";

import { backoffMs, Client, ClientClosedError, QueueFullError, retryAfterMs } from "../index.js";

/** A server answering each request with `answer(request, body)`; its requests are kept. */
async function server(answer) {
  const seen = [];
  const srv = http.createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      seen.push({ url: request.url, headers: request.headers, body });
      const [status, data, headers] = answer(request, body, seen.length);
      response.writeHead(status, { "Content-Type": "application/json", ...(headers ?? {}) });
      response.end(JSON.stringify(data));
    });
  });
  await new Promise((resolve) => srv.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${srv.address().port}`, seen, close: () => srv.close() };
}

const credited = (request, body) => {
  const events = JSON.parse(body).events;
  return [200, { status: 200, data: { items: events.map((e, i) => ({ g: e.g, s: "ok", rs: [], t: e.t, i })) } }];
};

test("Retry-After: seconds or an HTTP date; nothing else", () => {
  assert.equal(retryAfterMs("3"), 3000);
  const later = retryAfterMs(new Date(Date.now() + 10000).toUTCString());
  assert.ok(later > 8000 && later <= 10000, String(later));
  assert.equal(retryAfterMs("soon"), undefined);
  assert.equal(retryAfterMs(undefined), undefined);
});

test("backoff grows, is capped at 60 s, and never undercuts Retry-After", () => {
  for (let attempt = 1; attempt < 20; attempt++) {
    const ceiling = Math.min(60000, 500 * 2 ** (attempt - 1));
    const wait = backoffMs(attempt);
    assert.ok(wait >= ceiling / 2 && wait <= ceiling, `${attempt}: ${wait}`);
  }
  assert.equal(backoffMs(1, 5000), 5000);
});

test("bad arguments throw at once and queue nothing", () => {
  const client = new Client({ baseUrl: "http://127.0.0.1:9", account: "ac", apiKey: "k" });
  assert.throws(() => client.goal("g-buy", {}), TypeError); // no vid, no session
  assert.throws(() => client.goal("", { vid: "v" }), TypeError);
  assert.throws(() => client.goal("g-buy", { vid: "v", value: -1 }), TypeError);
  assert.throws(() => client.goal("g-buy", { vid: "v", value: Number.NaN }), TypeError);
  assert.throws(() => client.goal("g-buy", { vid: "a\u0000b" }), TypeError);
  assert.throws(() => client.goal("g-buy", { vid: "x".repeat(129) }), TypeError);
  assert.throws(() => client.goal("g-buy", { vid: "v", at: "yesterday" }), TypeError);
  assert.throws(() => new Client({ baseUrl: "ftp://x", account: "ac", apiKey: "k" }), TypeError);
  assert.equal(client.queued, 0);
});

test("goals go in one batch at sendAt, with ids, times and the key in a header", async () => {
  const srv = await server(credited);
  const verdicts = [];
  const client = new Client({
    baseUrl: srv.url, account: "ac-shop", apiKey: "key-1", sendAt: 3, sendEveryMs: 60000,
    onVerdict: (v) => verdicts.push(v),
  });
  const at = Date.UTC(2026, 11, 1, 10, 0, 0, 250);
  client.goal("g-buy", { vid: "v1", value: 9.5, eventId: "order-1", at });
  client.goal("g-buy", { vid: "v2" });
  client.goal("g-buy", { session: "s3" });
  assert.ok(await client.flush(5000));
  assert.equal(srv.seen.length, 1);
  assert.equal(srv.seen[0].url, "/ac-shop/v3/goal-events");
  assert.equal(srv.seen[0].headers["x-conductrics-apikey"], "key-1");
  const events = JSON.parse(srv.seen[0].body).events;
  assert.deepEqual(events[0], { g: "g-buy", id: "order-1", t: "2026-12-01T10:00:00.250Z", vid: "v1", v: 9.5 });
  assert.equal(new Set(events.map((e) => e.id)).size, 3);
  assert.equal(verdicts.length, 3);
  assert.equal(verdicts[0].goal.eventId, "order-1");
  await client.close();
  srv.close();
});

test("a 4xx is reported once, not retried; a 503 is retried after Retry-After", async () => {
  const refused = await server(() => [401, { status: 401, err: "Unknown key" }]);
  const errors = [];
  const a = new Client({ baseUrl: refused.url, account: "ac", apiKey: "bad", onError: (e) => errors.push(e) });
  a.goal("g-buy", { vid: "v1" });
  await a.close(5000);
  assert.equal(refused.seen.length, 1);
  assert.deepEqual(errors.map((e) => [e.reason, e.status, e.detail]), [["refused", 401, "Unknown key"]]);
  refused.close();

  const busy = await server((request, body, n) => (n === 1 ? [503, { status: 503, err: "busy" }, { "Retry-After": "1" }] : credited(request, body)));
  const verdicts = [];
  const b = new Client({ baseUrl: busy.url, account: "ac", apiKey: "k", onVerdict: (v) => verdicts.push(v) });
  const began = Date.now();
  b.goal("g-buy", { vid: "v1" });
  assert.ok(await b.close(10000));
  assert.ok(Date.now() - began >= 1000, "waited for Retry-After");
  assert.equal(busy.seen.length, 2);
  assert.equal(JSON.parse(busy.seen[0].body).events[0].id, JSON.parse(busy.seen[1].body).events[0].id);
  assert.equal(verdicts.length, 1);
  busy.close();
});

test("a full queue throws QueueFullError; a closed client ClientClosedError", async () => {
  const client = new Client({ baseUrl: "http://127.0.0.1:9", account: "ac", apiKey: "k", maxQueue: 2, sendEveryMs: 60000 });
  client.goal("g-buy", { vid: "v1" });
  client.goal("g-buy", { vid: "v2" });
  assert.throws(() => client.goal("g-buy", { vid: "v3" }), QueueFullError);
  const errors = [];
  client.onError = (e) => errors.push(e.reason);
  assert.equal(await client.close(300), false);
  assert.deepEqual(errors, ["not_sent", "not_sent"]);
  assert.throws(() => client.goal("g-buy", { vid: "v4" }), ClientClosedError);
});

test("select answers the server's variation, or the fallback on a refusal or a time-out", async () => {
  const srv = await server((request) => (request.url.includes("slow") ? [200, {}] : [200, { status: 200, data: { items: [], sels: { "a-hero": "B" } } }]));
  const client = new Client({ baseUrl: srv.url, account: "ac", apiKey: "k" });
  assert.equal(await client.select("a-hero", { session: "s1", fallback: "A" }), "B");
  assert.equal(await client.select("a-other", { session: "s1", fallback: "A" }), "A");
  assert.equal(await client.select("a-hero", { session: "slow", fallback: "A" }), "A");
  const down = new Client({ baseUrl: "http://127.0.0.1:9", account: "ac", apiKey: "k" });
  assert.equal(await down.select("a-hero", { session: "s1", fallback: "A", timeoutMs: 500 }), "A");
  await client.close();
  await down.close();
  srv.close();
});

/** Run `body` in a child node process with a Client on `url`; resolves its exit. */
function child(url, body) {
  const script = `
    import { Client } from ${JSON.stringify(new URL("../index.js", import.meta.url).href)};
    const client = new Client({ baseUrl: ${JSON.stringify(url)}, account: "ac", apiKey: "k", sendEveryMs: 60000, sendAt: 1000 });
    ${body}`;
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "inherit" });
    proc.on("exit", (code, signal) => resolve({ code, signal }));
  });
}

const vids = (srv) => srv.seen.flatMap((r) => JSON.parse(r.body).events.map((e) => e.vid)).sort();

test("a program that ends with goals queued sends them (nothing lost)", async () => {
  const srv = await server(credited);
  const done = await child(srv.url, `for (let i = 0; i < 12; i++) client.goal("g-buy", { vid: "v" + i });`);
  assert.equal(done.code, 0);
  assert.equal(vids(srv).length, 12);
  srv.close();
});

test("a killed process loses at most what was queued", async () => {
  const srv = await server(credited);
  const done = await child(srv.url, `
    for (let i = 0; i < 5; i++) client.goal("g-buy", { vid: "early-" + i });
    await client.flush(10000);
    for (let i = 0; i < 7; i++) client.goal("g-buy", { vid: "late-" + i });
    process.kill(process.pid, "SIGKILL");`);
  assert.equal(done.signal, "SIGKILL");
  assert.deepEqual(vids(srv), ["early-0", "early-1", "early-2", "early-3", "early-4"]);
  srv.close();
});
