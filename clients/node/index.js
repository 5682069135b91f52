// Server-side client of the Conductrics v3 runtime API (this product's goal-events batch
// endpoint and agent-api) for Node.js 18+, with no dependencies: goals queued and sent in
// the background, in batches, with event ids and event times, retried until answered and
// never counted twice; server-side selections with a fallback. The same API as the Python
// client (clients/python), in JavaScript naming.

import { randomUUID } from "node:crypto";

export const VERSION = "0.1.0";
export const SEND_EVERY_MS = 1000; // a batch is posted at least this often while goals are queued
export const SEND_AT_GOALS = 100; // ... or as soon as this many are queued
export const MAX_QUEUE = 10000; // goals held at most; goal() throws QueueFullError past it
export const RETRY_FOR_MS = 24 * 3600 * 1000; // how long a batch is retried before it is given up
export const TIMEOUT_MS = 10000; // of one HTTP request
export const SELECT_TIMEOUT_MS = 2000; // of a selection, after which the fallback is answered
export const EXIT_FLUSH_MS = 5000; // what the program's end waits for queued goals
const BATCH_MAX_EVENTS = 1000; // the batch endpoint's limits (SPEC 4c)
const BATCH_MAX_BYTES = 1024 * 1024;
const KEY_HEADER = "x-conductrics-apikey";
const MAX_TEXT = 128; // characters of a goal code, a vid, a session, an event id
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 60000;
const USER_AGENT = `conductrics-client-node/${VERSION}`;

/** goal() found the queue full (the server has not been taking goals): not queued. */
export class QueueFullError extends Error {
  constructor(message) {
    super(message);
    this.name = "QueueFullError";
  }
}

/** goal() was called after close(). */
export class ClientClosedError extends Error {
  constructor(message) {
    super(message);
    this.name = "ClientClosedError";
  }
}

class Transient extends Error {
  constructor(message, retryAfterMs) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

class Refused extends Error {
  constructor(status, detail) {
    super(`${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

function checkText(name, value, required = false) {
  if (value === undefined || value === null) {
    if (required) throw new TypeError(`${name}: 1 to ${MAX_TEXT} printable characters, got ${value}`);
    return;
  }
  // printable: no control characters (as Python's str.isprintable for this purpose)
  if (typeof value !== "string" || value.length < 1 || value.length > MAX_TEXT || /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(value)) {
    throw new TypeError(`${name}: 1 to ${MAX_TEXT} printable characters, got ${JSON.stringify(value)?.slice(0, 60)}`);
  }
}

/** RFC 3339, UTC, milliseconds, from a Date, epoch milliseconds, or now. */
function rfc3339(at) {
  if (at === undefined || at === null) return new Date().toISOString();
  if (at instanceof Date && !Number.isNaN(at.getTime())) return at.toISOString();
  if (typeof at === "number" && Number.isFinite(at)) return new Date(at).toISOString();
  throw new TypeError("at: a Date or milliseconds since the epoch");
}

/** Milliseconds to wait from a Retry-After header (seconds or an HTTP date), if any. */
export function retryAfterMs(header) {
  if (!header) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const when = Date.parse(text);
  return Number.isNaN(when) ? undefined : Math.max(0, when - Date.now());
}

/** The wait before retry number `attempt` (1, 2, ...): exponential with jitter, never
 * shorter than what the server asked for in Retry-After. */
export function backoffMs(attempt, retryAfter) {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (attempt - 1));
  const wait = ceiling / 2 + Math.random() * (ceiling / 2);
  return Math.max(wait, retryAfter ?? 0);
}

function goalEvent(goal) {
  const event = { g: goal.goal, id: goal.eventId, t: goal.at };
  if (goal.vid !== undefined) event.vid = goal.vid;
  if (goal.session !== undefined) event.session = goal.session;
  if (goal.value !== undefined) event.v = goal.value;
  if (goal.traits !== undefined) event.traits = goal.traits;
  if (goal.inputs !== undefined) event.inputs = goal.inputs;
  return event;
}

const open = new Set(); // clients flushed when the process has nothing else to do
let exitHook = false;

export class Client {
  /**
   * @param {object} options baseUrl, account, apiKey (a REST target's key), and optionally
   *   target, sendEveryMs, sendAt, maxQueue, retryForMs, timeoutMs, selectTimeoutMs,
   *   onVerdict(verdict), onError(error).
   */
  constructor({
    baseUrl, account, apiKey, target, sendEveryMs = SEND_EVERY_MS, sendAt = SEND_AT_GOALS,
    maxQueue = MAX_QUEUE, retryForMs = RETRY_FOR_MS, timeoutMs = TIMEOUT_MS,
    selectTimeoutMs = SELECT_TIMEOUT_MS, onVerdict, onError,
  } = {}) {
    const url = new URL(baseUrl);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`baseUrl: an http or https URL, got ${baseUrl}`);
    }
    if (!(sendAt >= 1 && sendAt <= BATCH_MAX_EVENTS)) throw new RangeError(`sendAt: 1 to ${BATCH_MAX_EVENTS}`);
    if (!(maxQueue >= 1 && sendEveryMs > 0 && timeoutMs > 0 && retryForMs >= 0)) {
      throw new RangeError("maxQueue, sendEveryMs and timeoutMs must be positive");
    }
    checkText("account", account, true);
    this.base = baseUrl.replace(/\/+$/, "");
    this.account = encodeURIComponent(account);
    this.target = target ? encodeURIComponent(target) : undefined;
    this.apiKey = apiKey;
    Object.assign(this, { sendEveryMs, sendAt, maxQueue, retryForMs, timeoutMs, selectTimeoutMs, onVerdict, onError });
    this.queue = [];
    this.inFlight = 0;
    this.closed = false;
    this.stopping = false;
    this.timer = undefined;
    this.sending = undefined; // the promise of the batch being sent
    this.idle = []; // resolvers of flush() waiting for an empty queue
    this.wakeRetry = undefined; // ends a retry's wait early (close)
    open.add(this);
    if (!exitHook) {
      exitHook = true;
      // the program is done (the client's timers do not keep it alive): each client is
      // closed, sending what is queued for up to EXIT_FLUSH_MS
      process.on("beforeExit", () => {
        for (const client of open) if (client.queued) client.close(EXIT_FLUSH_MS);
      });
    }
  }

  /** Goals not yet answered by the server (queued or being sent). */
  get queued() {
    return this.queue.length + this.inFlight;
  }

  /**
   * Queue a goal of the visitor `vid` (or `session`) and return at once. `eventId` makes a
   * retry safe across processes (an order number, say); without one a random id is made.
   * `at` is when it happened (a Date or epoch milliseconds; default now). Throws TypeError
   * for bad arguments, QueueFullError when the queue is full, ClientClosedError after close().
   */
  goal(goal, { vid, session, value, eventId, at, traits, inputs } = {}) {
    checkText("goal", goal, true);
    if (vid === undefined && session === undefined) {
      throw new TypeError("vid or session: at least one is needed to find the visitor");
    }
    checkText("vid", vid);
    checkText("session", session);
    checkText("eventId", eventId);
    if (value !== undefined && !(typeof value === "number" && Number.isFinite(value) && value >= 0)) {
      throw new TypeError(`value: a finite number >= 0, got ${value}`);
    }
    if (this.closed) throw new ClientClosedError("goal() after close()");
    if (this.queue.length >= this.maxQueue) {
      throw new QueueFullError(`${this.queue.length} goals queued (maxQueue=${this.maxQueue}): the server is not taking them`);
    }
    const queued = Object.freeze({
      goal, vid, session, value, traits, inputs,
      eventId: eventId ?? randomUUID().replaceAll("-", ""),
      at: rfc3339(at),
    });
    this.queue.push(queued);
    if (this.queue.length >= this.sendAt) this.sendNow();
    else if (!this.timer && !this.sending) this.arm();
    return queued;
  }

  arm() {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.sendNow();
    }, this.sendEveryMs);
    this.timer.unref?.();
  }

  sendNow() {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.sending || !this.queue.length) {
      this.settle();
      return;
    }
    const batch = this.queue.splice(0, BATCH_MAX_EVENTS);
    this.inFlight = batch.length;
    this.sending = this.deliver(batch)
      .catch((error) => {
        for (const goal of batch) this.reportError({ goal, reason: "refused", detail: `client error: ${error}` });
      })
      .finally(() => {
        this.inFlight = 0;
        this.sending = undefined;
        if (this.queue.length >= this.sendAt || (this.queue.length && this.flushing())) this.sendNow();
        else if (this.queue.length && !this.stopping) this.arm();
        this.settle();
      });
  }

  flushing() {
    return this.idle.length > 0;
  }

  settle() {
    if (!this.queue.length && !this.inFlight) {
      for (const resolve of this.idle.splice(0)) resolve(true);
    }
  }

  /** Send what is queued now; resolves true once the server answered it all, false if
   * `timeoutMs` passed first. */
  flush(timeoutMs) {
    if (!this.queue.length && !this.inFlight) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer;
      // the program stays alive while someone waits for the flush (the client's own
      // timers, a retry's wait included, do not keep it alive)
      const alive = setInterval(() => {}, 2 ** 30);
      const done = (value) => {
        clearTimeout(timer);
        clearInterval(alive);
        resolve(value);
      };
      this.idle.push(done);
      if (timeoutMs !== undefined && timeoutMs !== null) {
        timer = setTimeout(() => {
          this.idle = this.idle.filter((r) => r !== done);
          done(false);
        }, timeoutMs);
      }
      this.sendNow();
    });
  }

  /** Send what is queued, then refuse later goals. Resolves true when every goal was
   * answered; goals left are reported to onError as `not_sent`. */
  async close(timeoutMs) {
    if (this.closed) return !this.queue.length;
    this.closed = true;
    const sent = await this.flush(timeoutMs);
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    const left = this.queue.splice(0);
    this.wakeRetry?.();
    if (this.sending) {
      await Promise.race([this.sending, new Promise((r) => setTimeout(r, this.timeoutMs + 1000).unref?.())]);
    }
    for (const goal of left) this.reportError({ goal, reason: "not_sent", detail: "still queued when the client closed" });
    open.delete(this);
    return sent && !left.length;
  }

  async deliver(batch) {
    for (const [goals, body] of this.bodies(batch)) await this.postUntilAnswered(goals, body);
  }

  bodies(batch) {
    const body = JSON.stringify({ events: batch.map(goalEvent) });
    if (Buffer.byteLength(body) <= BATCH_MAX_BYTES) return [[batch, body]];
    if (batch.length === 1) {
      this.reportError({ goal: batch[0], reason: "too_large", detail: `${Buffer.byteLength(body)} bytes` });
      return [];
    }
    const half = batch.length >> 1;
    return [...this.bodies(batch.slice(0, half)), ...this.bodies(batch.slice(half))];
  }

  async postUntilAnswered(goals, body) {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      let answer;
      try {
        answer = await this.post(this.path("goal-events"), body, this.timeoutMs);
      } catch (error) {
        if (error instanceof Refused) {
          for (const goal of goals) this.reportError({ goal, reason: "refused", status: error.status, detail: error.detail });
          return;
        }
        const wait = backoffMs(attempt, error.retryAfterMs);
        if (Date.now() + wait - started > this.retryForMs) {
          for (const goal of goals) this.reportError({ goal, reason: "gave_up", detail: String(error.message) });
          return;
        }
        const stopped = await new Promise((resolve) => {
          const timer = setTimeout(() => resolve(false), wait);
          timer.unref?.(); // a retry alone does not keep the program alive (see beforeExit)
          this.wakeRetry = () => {
            clearTimeout(timer);
            resolve(true);
          };
          if (this.stopping) this.wakeRetry();
        });
        this.wakeRetry = undefined;
        if (stopped) {
          for (const goal of goals) this.reportError({ goal, reason: "not_sent", detail: String(error.message) });
          return;
        }
        continue;
      }
      this.verdicts(goals, answer);
      return;
    }
  }

  verdicts(goals, answer) {
    const items = [...(answer?.data?.items ?? [])].sort((a, b) => (a.i ?? 0) - (b.i ?? 0));
    if (!this.onVerdict) return;
    goals.forEach((goal, n) => {
      const item = items[n];
      if (!item) return;
      try {
        this.onVerdict({
          goal, status: item.s, replay: Boolean(item.replay), credited: item.rs ?? [],
          skipped: item.skipped ?? [], err: item.err, detail: item.detail, item,
        });
      } catch {
        // the caller's callback: its fault is its own
      }
    });
  }

  reportError(error) {
    if (!this.onError) return;
    try {
      this.onError(error);
    } catch {
      // the caller's callback
    }
  }

  path(endpoint, query) {
    let url = `${this.base}/${this.account}/v3/${endpoint}`;
    if (this.target) url += `/${this.target}`;
    if (query) url += `?${new URLSearchParams(query)}`;
    return url;
  }

  async post(url, body, timeoutMs) {
    let response;
    let text;
    try {
      response = await fetch(url, {
        method: "POST",
        body,
        headers: { "Content-Type": "application/json", [KEY_HEADER]: this.apiKey, "User-Agent": USER_AGENT },
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      // refused, reset, timed out, an answer cut off
      throw new Transient(`${error?.name}: ${error?.cause?.code ?? error?.message}`);
    }
    const status = response.status;
    if (status === 408 || status === 429 || status >= 500) {
      throw new Transient(`HTTP ${status}`, retryAfterMs(response.headers.get("retry-after")));
    }
    if (status >= 400) {
      let detail = text.slice(0, 2000);
      try {
        detail = String(JSON.parse(text).err ?? detail);
      } catch {
        // not JSON: the text itself
      }
      throw new Refused(status, detail);
    }
    try {
      const answer = JSON.parse(text);
      if (answer === null || typeof answer !== "object") throw new Error("not an object");
      return answer;
    } catch (error) {
      throw new Transient(`an answer that is not a JSON object: ${error.message}`);
    }
  }

  /** The variation of `agent` for this visitor, decided by the server; `fallback` on any
   * failure (unreachable, slow past timeoutMs, refused, agent not served). */
  async select(agent, { session, vid, fallback, traits, inputs, timeoutMs } = {}) {
    checkText("agent", agent, true);
    checkText("session", session, true);
    const query = { session };
    if (vid !== undefined) query.vid = vid;
    if (traits !== undefined) query.traits = traits;
    const commands = [{ a: agent }];
    const body = inputs ? { commands, inputs } : commands;
    try {
      const answer = await this.post(this.path("agent-api", query), JSON.stringify(body), timeoutMs ?? this.selectTimeoutMs);
      const chosen = answer?.data?.sels?.[agent];
      return typeof chosen === "string" ? chosen : fallback;
    } catch {
      return fallback;
    }
  }
}
