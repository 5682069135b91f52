// Types of conductrics-client (index.js).

export declare const VERSION: string;
export declare const SEND_EVERY_MS: number;
export declare const SEND_AT_GOALS: number;
export declare const MAX_QUEUE: number;
export declare const RETRY_FOR_MS: number;
export declare const TIMEOUT_MS: number;
export declare const SELECT_TIMEOUT_MS: number;
export declare const EXIT_FLUSH_MS: number;

/** A goal as queued: what goal() was given, its event id and its event time. */
export interface Goal {
  readonly goal: string;
  readonly eventId: string;
  /** RFC 3339, UTC, milliseconds */
  readonly at: string;
  readonly vid?: string;
  readonly session?: string;
  readonly value?: number;
  readonly traits?: string;
  readonly inputs?: Record<string, string>;
}

/** The server's verdict on one goal. */
export interface Verdict {
  goal: Goal;
  /** ok: credited; none: nothing credited (skipped says why); err: refused (err says why) */
  status: "ok" | "none" | "err";
  /** the server had this event id already: its first verdict, nothing counted again */
  replay: boolean;
  credited: Array<{ a: string; c: string; v: number }>;
  skipped: Array<{ a: string; c: string; reason: string }>;
  err?: string;
  detail?: string;
  item: Record<string, unknown>;
}

/** A goal the client could not deliver. */
export interface SendError {
  goal: Goal;
  reason: "refused" | "gave_up" | "too_large" | "not_sent";
  status?: number;
  detail?: string;
}

export interface ClientOptions {
  baseUrl: string;
  account: string;
  /** a REST target's runtime key */
  apiKey: string;
  /** the deploy target's code in the URL (default: the key's own target) */
  target?: string;
  sendEveryMs?: number;
  sendAt?: number;
  maxQueue?: number;
  retryForMs?: number;
  timeoutMs?: number;
  selectTimeoutMs?: number;
  onVerdict?: (verdict: Verdict) => void;
  onError?: (error: SendError) => void;
}

export interface GoalOptions {
  vid?: string;
  session?: string;
  value?: number;
  eventId?: string;
  /** when the goal happened: a Date or milliseconds since the epoch (default: now) */
  at?: Date | number;
  traits?: string;
  inputs?: Record<string, string>;
}

export interface SelectOptions {
  session: string;
  fallback: string;
  vid?: string;
  traits?: string;
  inputs?: Record<string, string>;
  timeoutMs?: number;
}

export declare class QueueFullError extends Error {}
export declare class ClientClosedError extends Error {}

export declare function retryAfterMs(header: string | null | undefined): number | undefined;
export declare function backoffMs(attempt: number, retryAfter?: number): number;

export declare class Client {
  constructor(options: ClientOptions);
  /** goals not yet answered by the server */
  readonly queued: number;
  goal(goal: string, options: GoalOptions): Goal;
  flush(timeoutMs?: number): Promise<boolean>;
  close(timeoutMs?: number): Promise<boolean>;
  select(agent: string, options: SelectOptions): Promise<string>;
}
