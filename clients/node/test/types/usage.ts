// The declarations (index.d.ts) as a TypeScript caller uses them: `make test-js` compiles
// this file with tsc --strict. Each `@ts-expect-error` line is a misuse the declarations
// must refuse: if they grew looser (an `any`, an optional argument that is required), the
// line would compile and tsc would fail on the unused directive.
import {
  backoffMs,
  Client,
  ClientClosedError,
  type Goal,
  MAX_QUEUE,
  QueueFullError,
  retryAfterMs,
  type SendError,
  type Verdict,
} from "../../index.js";

const reasons: Array<SendError["reason"]> = [];
const client = new Client({
  baseUrl: "http://127.0.0.1:8000",
  account: "ac-shop",
  apiKey: "rest-key",
  target: "dt-backend",
  sendEveryMs: 1000,
  onVerdict: (verdict: Verdict) => {
    const status: "ok" | "none" | "err" = verdict.status;
    const agents: string[] = verdict.credited.map((credit) => `${credit.a}:${credit.c}:${credit.v}`);
    void status;
    void agents;
  },
  onError: (error: SendError) => {
    reasons.push(error.reason);
  },
});

const queued: Goal = client.goal("g-purchase", { vid: "lana-123", value: 49.9, eventId: "order-1001", at: new Date() });
const eventId: string = queued.eventId;
client.goal("g-signup", { session: "s-1", at: Date.now(), inputs: { plan: "pro" } });
const count: number = client.queued + MAX_QUEUE;
const wait: number = backoffMs(3, retryAfterMs("2"));

async function main(): Promise<void> {
  const variation: string = await client.select("a-hero", { session: "lana-123", fallback: "A" });
  const flushed: boolean = await client.flush(5000);
  const closed: boolean = await client.close();
  void [variation, flushed, closed, eventId, count, wait];
}

try {
  client.goal("g-purchase", { vid: "v" });
} catch (error) {
  if (error instanceof QueueFullError || error instanceof ClientClosedError) {
    const message: string = error.message;
    void message;
  }
}

// @ts-expect-error the options are required: an account and a key at least
new Client({ baseUrl: "http://127.0.0.1:8000" });
// @ts-expect-error a goal's value is a number
client.goal("g-purchase", { vid: "v", value: "49.9" });
// @ts-expect-error a goal's options are required (a vid or a session)
client.goal("g-purchase");
// @ts-expect-error the event time is a Date or milliseconds, not text
client.goal("g-purchase", { vid: "v", at: "2026-12-01T00:00:00Z" });
// @ts-expect-error a selection needs its fallback
void client.select("a-hero", { session: "s" });
// @ts-expect-error select answers a Promise, not the variation itself
const direct: string = client.select("a-hero", { session: "s", fallback: "A" });
// @ts-expect-error a verdict's status is one of three
const status: Verdict["status"] = "maybe";
// @ts-expect-error queued is read-only
client.queued = 0;
void [direct, status, main];
