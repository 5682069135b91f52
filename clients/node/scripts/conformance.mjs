// The Node.js client's runner of a conformance scenario (clients/conformance/scenarios.json),
// started by tests/clients/test_conformance.py: reads {scenario, config} on stdin, runs the
// steps with Client, and prints what it saw, in the shape the Python runner reports.
import { Client } from "../index.js";

const CAMEL = { event_id: "eventId", send_at: "sendAt", send_every: "sendEveryMs", max_queue: "maxQueue", timeout: "timeoutMs", select_timeout: "selectTimeoutMs", retry_for: "retryForMs" };
const SECONDS = new Set(["send_every", "timeout", "select_timeout", "retry_for"]);

function camel(options) {
  const out = {};
  for (const [key, value] of Object.entries(options)) {
    out[CAMEL[key] ?? key] = SECONDS.has(key) ? value * 1000 : value;
  }
  return out;
}

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { scenario, config } = JSON.parse(input);
const options = { ...scenario.client };
const apiKey = config.keys[options.key ?? "rest"];
const baseUrl = (options.url ?? "proxy") === "closed" ? config.closed_url : config.proxy_url;
delete options.key;
delete options.url;
const seen = { verdicts: [], errors: [], raised: [], selections: [] };
const client = new Client({
  baseUrl, account: config.account, apiKey, ...camel(options),
  onVerdict: (v) => seen.verdicts.push({ event_id: v.goal.eventId, at: v.goal.at, s: v.status, replay: v.replay, t: v.item.t ?? null, err: v.err ?? null }),
  onError: (e) => seen.errors.push({ event_id: e.goal.eventId, reason: e.reason, status: e.status ?? null }),
});
const ms = (seconds) => (seconds === null || seconds === undefined ? undefined : seconds * 1000);
for (const step of scenario.steps) {
  const [[kind, arg]] = Object.entries(step);
  if (kind === "goal") {
    const { goal, at_seconds_ago: ago, ...rest } = arg;
    const goalOptions = camel(rest);
    if (ago !== undefined) goalOptions.at = Date.now() - ago * 1000;
    try {
      client.goal(goal, goalOptions);
    } catch (error) {
      // the languages' names for a bad argument differ: TypeError here, ValueError in Python
      seen.raised.push(error.name === "TypeError" || error.name === "RangeError" ? "ValueError" : error.name);
    }
  } else if (kind === "flush") {
    await client.flush(ms(arg));
  } else if (kind === "close") {
    await client.close(ms(arg));
  } else if (kind === "select") {
    const { agent, timeout, ...rest } = arg;
    seen.selections.push(await client.select(agent, { ...rest, timeoutMs: ms(timeout) }));
  } else if (kind === "sleep") {
    await new Promise((resolve) => setTimeout(resolve, arg * 1000));
  } else {
    throw new Error(`unknown step ${kind}`);
  }
}
await client.close(5000);
process.stdout.write(JSON.stringify(seen));
