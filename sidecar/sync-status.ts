/**
 * What one sync did (SyncResult, and its `sync_finished` log line), and what the syncs so far add up to
 * (SyncHistory): the last success, the last attempt, the failures in a row and the last error. /readyz
 * and /healthz answer from the history; the loop never has to ask S3 anything to say how fresh it is.
 */
import { httpStatusOf, isRecord } from "../lambda/shared/values.js";
import type { Logger } from "./log.js";
import type { ErrorKind } from "./metrics.js";

export interface SyncResult {
  ok: boolean;
  aborted: boolean;
  /** Buckets whose listing failed (their files kept); any makes the sync fail. */
  bucketsFailed: number;
  listed: number;
  fetched: number;
  notModified: number;
  written: number;
  unchanged: number;
  removed: number;
  rejected: number;
  errors: number;
  durationMs: number;
}

export type Outcome = "success" | "failure" | "aborted";

export function emptyResult(): SyncResult {
  return {
    ok: false,
    aborted: false,
    bucketsFailed: 0,
    listed: 0,
    fetched: 0,
    notModified: 0,
    written: 0,
    unchanged: 0,
    removed: 0,
    rejected: 0,
    errors: 0,
    durationMs: 0,
  };
}

/** The `sync_finished` line: info when the poll did something, debug when it only listed, warn when it failed. */
export function logSyncFinished(logger: Logger, result: SyncResult, outcome: Outcome, objects: number): void {
  const busy = result.written + result.removed + result.errors + result.fetched > 0;
  logger.log(result.ok ? (busy ? "info" : "debug") : "warn", "sync_finished", {
    result: outcome,
    duration_ms: Math.round(result.durationMs * 10) / 10,
    buckets_failed: result.bucketsFailed || undefined,
    listed: result.listed,
    fetched: result.fetched,
    not_modified: result.notModified,
    written: result.written,
    unchanged: result.unchanged,
    removed: result.removed,
    rejected: result.rejected,
    errors: result.errors,
    objects,
  });
}

/**
 * An error's name or code, with its HTTP status: `AccessDenied (HTTP 403)`, `ECONNREFUSED`,
 * `TimeoutError`. Never the message, which may name an account, a role or a bucket: this goes into HTTP
 * answers that anyone who can reach the port reads (the logs keep the whole description).
 */
export function errorCode(error: unknown): string | undefined {
  if (!isRecord(error) && !(error instanceof Error)) return undefined;
  const e = error as { name?: unknown; code?: unknown };
  const code = typeof e.code === "string" && e.code !== "" ? e.code : undefined;
  const name = typeof e.name === "string" && e.name !== "" && e.name !== "Error" ? e.name : undefined;
  const status = httpStatusOf(error);
  const head = (code ?? name ?? "").replace(/[^A-Za-z0-9_.:-]/g, "").slice(0, 80);
  if (!head) return status ? `HTTP ${status}` : undefined;
  return status ? `${head} (HTTP ${status})` : head;
}

/**
 * A signal that aborts when `outer` does, or after `timeoutMs`. Made by hand rather than with
 * AbortSignal.any and AbortSignal.timeout: combined with a long-lived signal (the stop signal, once per
 * poll for months), those keep what they made alive on some Node.js versions. `dispose` unhooks it all.
 */
export function deadlineSignal(outer: AbortSignal, timeoutMs: number | undefined) {
  const controller = new AbortController();
  const onStop = () => controller.abort(outer.reason);
  if (outer.aborted) onStop();
  else outer.addEventListener("abort", onStop, { once: true });
  let timedOut = false;
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          controller.abort(new DOMException(`sync ran past ${timeoutMs} ms`, "TimeoutError"));
        }, timeoutMs);
  return {
    signal: controller.signal,
    /** True when the deadline, not `outer`, aborted it. */
    timedOut: () => timedOut && !outer.aborted,
    dispose: () => {
      clearTimeout(timer);
      outer.removeEventListener("abort", onStop);
    },
  };
}

export interface LastError {
  kind: ErrorKind;
  atMs: number;
  code: string | undefined;
}

export interface LastAttempt {
  outcome: Outcome;
  atMs: number;
  durationMs: number;
  /** Buckets whose listing failed in it. */
  bucketsFailed: number;
}

/** The syncs of this process so far, as the health answers need them. */
export class SyncHistory {
  private successMs: number | undefined;
  private attempt: LastAttempt | undefined;
  private failuresInARow = 0;
  private error: LastError | undefined;

  /** Unix ms of the last fully successful sync, undefined before the first. */
  get lastSuccessMs(): number | undefined {
    return this.successMs;
  }

  get lastAttempt(): LastAttempt | undefined {
    return this.attempt;
  }

  /** Failed syncs since the last success (an aborted sync, a stop, counts as neither). */
  get consecutiveFailures(): number {
    return this.failuresInARow;
  }

  get lastError(): LastError | undefined {
    return this.error;
  }

  record(outcome: Outcome, durationMs: number, atMs: number = Date.now(), bucketsFailed = 0): void {
    this.attempt = { outcome, atMs, durationMs, bucketsFailed };
    if (outcome === "success") {
      this.successMs = atMs;
      this.failuresInARow = 0;
    } else if (outcome === "failure") this.failuresInARow++;
  }

  noteError(kind: ErrorKind, error: unknown, atMs: number = Date.now()): void {
    this.error = { kind, atMs, code: errorCode(error) };
  }
}
