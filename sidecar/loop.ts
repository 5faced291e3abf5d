/**
 * The poll loop: sync, sleep an interval, again, until stopped. Each iteration beats the heartbeat that
 * /healthz reads, and each sync is bounded by the sync timeout (Syncer.syncOnce aborts it).
 *
 * A watchdog asks the same liveness question /healthz answers. Should the loop ever be stuck anyway (a
 * disk that never answers a write, a request that ignores its abort), `run` ends with "stuck" and the
 * sidecar exits 1, so that its supervisor (an ECS restart policy, systemd's Restart=) starts it afresh:
 * an ECS health check reports a container's health but never restarts it. Files are never removed on the
 * way out, so Prometheus keeps its targets meanwhile.
 */
import type { SidecarHealth } from "./health.js";
import type { Logger } from "./log.js";
import type { Syncer } from "./sync.js";

export interface LoopOptions {
  intervalMs: number;
  syncTimeoutMs: number;
  /** How often the watchdog looks; default a quarter of the liveness bound, at most 15 s. */
  watchdogMs?: number;
}

export type LoopEnd = "stopped" | "stuck";

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

export class PollLoop {
  constructor(
    private readonly syncer: Syncer,
    private readonly health: SidecarHealth,
    private readonly options: LoopOptions,
    private readonly logger: Logger,
  ) {}

  /** Polls until `stop` aborts ("stopped"), or until the watchdog finds the loop stuck ("stuck"). */
  async run(stop: AbortSignal): Promise<LoopEnd> {
    let onStuck: (end: LoopEnd) => void = () => {};
    const stuck = new Promise<LoopEnd>((resolve) => {
      onStuck = resolve;
    });
    const every = this.options.watchdogMs ?? Math.min(this.health.livenessBoundMs / 4, 15_000);
    // Not unref'd: a loop stuck on a promise with nothing else pending must not let the process end quietly.
    const watchdog = setInterval(() => {
      const verdict = this.health.liveness();
      if (verdict.ok) return;
      this.logger.log("error", "loop_stuck", {
        ...verdict.body,
        note: "exiting with 1 for the supervisor to restart the sidecar; local files kept",
      });
      onStuck("stuck");
    }, every);
    try {
      return await Promise.race([this.iterate(stop), stuck]);
    } finally {
      clearInterval(watchdog);
    }
  }

  private async iterate(stop: AbortSignal): Promise<LoopEnd> {
    const { heartbeat, now } = this.health;
    while (!stop.aborted) {
      heartbeat.started(now());
      try {
        await this.syncer.syncOnce(stop, this.options.syncTimeoutMs);
      } finally {
        heartbeat.finished();
      }
      await sleep(this.options.intervalMs, stop);
    }
    return "stopped";
  }
}
