/**
 * Two questions, kept apart so that an S3 outage can never get the sidecar (or Prometheus beside it)
 * restarted:
 * - liveness (/healthz): is the process's poll loop still going? It is while the loop started an
 *   iteration within the sync timeout plus one interval plus a grace (of one interval, at least 10 s).
 *   Only a sync stuck beyond its own timeout, or a loop that stopped, fails it; a failing sync does not,
 *   whatever S3 or IAM answer, because a failed sync ends and the loop goes on.
 * - freshness (/readyz and the fresh gauge): did a sync succeed within `freshnessIntervals` intervals?
 *   S3 trouble makes the sidecar stale, never dead: it keeps serving the last good files and /targets.
 */
import type { LastError, SyncHistory } from "./sync-status.js";

export interface Verdict {
  ok: boolean;
  body: Record<string, unknown>;
}

export interface HealthOptions {
  intervalMs: number;
  /** Fresh while the last successful sync is at most this many intervals old. */
  freshnessIntervals: number;
  /** A sync still running after this long is aborted (Syncer.syncOnce). */
  syncTimeoutMs: number;
  now?: () => number;
}

/** The longest a live poll loop goes without starting an iteration. */
export function livenessBoundMs(intervalMs: number, syncTimeoutMs: number): number {
  return syncTimeoutMs + intervalMs + Math.max(intervalMs, 10_000);
}

/** What the poll loop reports of itself: when it last started an iteration, and whether it is syncing. */
export class Heartbeat {
  private count = 0;
  private startedMs: number;
  private busy = false;

  constructor(createdMs: number) {
    this.startedMs = createdMs;
  }

  started(atMs: number): void {
    this.count++;
    this.startedMs = atMs;
    this.busy = true;
  }

  finished(): void {
    this.busy = false;
  }

  get iterations(): number {
    return this.count;
  }

  /** When the last iteration started (when the heartbeat was made, before the first). */
  get lastStartMs(): number {
    return this.startedMs;
  }

  get syncing(): boolean {
    return this.busy;
  }
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
const seconds = (ms: number) => Math.round(ms / 100) / 10;

function errorBody(error: LastError | undefined) {
  return error === undefined ? null : { kind: error.kind, time: iso(error.atMs), code: error.code ?? null };
}

export class SidecarHealth {
  readonly heartbeat: Heartbeat;
  readonly now: () => number;

  constructor(
    private readonly history: SyncHistory,
    private readonly options: HealthOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.heartbeat = new Heartbeat(this.now());
  }

  /** Age of the last successful sync beyond which the sidecar is stale. */
  get maxAgeMs(): number {
    return this.options.freshnessIntervals * this.options.intervalMs;
  }

  get livenessBoundMs(): number {
    return livenessBoundMs(this.options.intervalMs, this.options.syncTimeoutMs);
  }

  fresh(now: number = this.now()): boolean {
    const last = this.history.lastSuccessMs;
    return last !== undefined && now - last <= this.maxAgeMs;
  }

  /** /readyz: 200 while fresh, 503 (with the reason) when stale or before the first successful sync. */
  readiness(): Verdict {
    const now = this.now();
    const last = this.history.lastSuccessMs;
    const ok = this.fresh(now);
    const limit = `${seconds(this.maxAgeMs)} s (${this.options.freshnessIntervals} intervals of ${seconds(this.options.intervalMs)} s)`;
    const reason =
      last === undefined
        ? "no successful sync since start"
        : `last successful sync ${seconds(now - last)} s ago, more than ${limit}`;
    const attempt = this.history.lastAttempt;
    return {
      ok,
      body: {
        status: ok ? "ok" : "stale",
        check: "freshness",
        reason: ok ? undefined : reason,
        last_successful_sync: iso(last),
        age_seconds: last === undefined ? null : seconds(now - last),
        max_age_seconds: seconds(this.maxAgeMs),
        consecutive_failures: this.history.consecutiveFailures,
        last_sync:
          attempt === undefined
            ? null
            : {
                result: attempt.outcome,
                time: iso(attempt.atMs),
                duration_ms: Math.round(attempt.durationMs),
                buckets_failed: attempt.bucketsFailed || undefined,
              },
        last_error: errorBody(this.history.lastError),
        note: ok ? undefined : "the last good files and /targets are still served",
      },
    };
  }

  /** /healthz: 200 while the poll loop is going, whatever S3 says; 503 only when it is stuck. */
  liveness(): Verdict {
    const now = this.now();
    const beat = this.heartbeat;
    const since = now - beat.lastStartMs;
    const ok = since <= this.livenessBoundMs;
    const reason = `no poll iteration started for ${seconds(since)} s, limit ${seconds(this.livenessBoundMs)} s${
      beat.syncing ? "; the running sync outlived its timeout" : ""
    }`;
    return {
      ok,
      body: {
        status: ok ? "ok" : "stuck",
        check: "liveness",
        reason: ok ? undefined : reason,
        poll_loop: {
          iterations: beat.iterations,
          syncing: beat.syncing,
          last_iteration_started: iso(beat.lastStartMs),
          seconds_since_iteration_start: seconds(since),
          max_seconds: seconds(this.livenessBoundMs),
        },
        fresh: this.fresh(now),
        last_successful_sync: iso(this.history.lastSuccessMs),
        last_error: errorBody(this.history.lastError),
        note: "liveness only: S3 or IAM trouble never fails it; /readyz says whether the targets are fresh",
      },
    };
  }
}
