/** The sidecar's Prometheus metrics, in a registry of its own. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { RequestObserver } from "./store.js";

export const ERROR_KINDS = [
  "list_failed",
  "get_failed",
  "invalid_key",
  "duplicate_key",
  "too_large",
  "not_utf8",
  "not_json",
  "bad_shape",
  "write_failed",
  "remove_failed",
  "state_failed",
  "sync_timeout",
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** The kinds that refuse a key or an object (the publisher's problem); the others fail the sync. */
export const REJECTION_KINDS = [
  "invalid_key",
  "duplicate_key",
  "too_large",
  "not_utf8",
  "not_json",
  "bad_shape",
] as const satisfies readonly ErrorKind[];

const P = "ecs_discovery_sidecar_";

function gauge(registry: Registry, name: string, help: string): Gauge {
  return new Gauge({ name: `${P}${name}`, help, registers: [registry] });
}

function counter<L extends string = never>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  return new Counter({ name: `${P}${name}`, help, labelNames, registers: [registry] });
}

export class SidecarMetrics {
  readonly registry = new Registry();
  /** Asked at each scrape for the fresh gauge; unset, the gauge says 0. */
  private freshness: (() => boolean) | undefined;
  readonly lastSuccess = gauge(
    this.registry,
    "last_successful_sync_timestamp_seconds",
    "Unix time of the last sync whose S3 listing and fetches all succeeded.",
  );
  readonly fresh = new Gauge({
    name: `${P}fresh`,
    help: "1 while the last successful sync is at most freshness_max_age_seconds old (what /readyz says), else 0.",
    registers: [this.registry],
    collect: () => {
      this.fresh.set(this.freshness?.() ? 1 : 0);
    },
  });
  readonly freshnessMaxAge = gauge(
    this.registry,
    "freshness_max_age_seconds",
    "Age of the last successful sync beyond which the sidecar calls itself stale (--freshness-intervals x --interval).",
  );
  readonly syncDuration = new Histogram({
    name: `${P}sync_duration_seconds`,
    help: "Duration of one sync (LIST, changed GETs, writes, removals).",
    labelNames: ["result"] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly syncs = counter(this.registry, "syncs_total", "Syncs by result (success, failure, aborted).", [
    "result",
  ]);
  readonly objects = gauge(
    this.registry,
    "objects",
    "Objects with a good (valid) version currently published.",
  );
  readonly bytes = gauge(this.registry, "object_bytes", "Total size of the published good objects.");
  readonly targets = gauge(this.registry, "targets", "Targets in the published good objects.");
  readonly errors = counter(
    this.registry,
    "errors_total",
    "Errors by kind (bad keys and bad objects are counted once per key and ETag).",
    ["kind"],
  );
  readonly rejectedObjects = new Gauge({
    name: `${P}rejected_objects`,
    help: "Listed keys whose current version is refused (bad key, bad object, or a key an earlier bucket also holds), by kind; the last good file stays.",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly s3Requests = counter(this.registry, "s3_requests_total", "S3 requests by operation and outcome.", [
    "operation",
    "outcome",
  ]);
  readonly filesWritten = counter(
    this.registry,
    "files_written_total",
    "Files written (atomically) because an object changed.",
  );
  readonly filesRemoved = counter(
    this.registry,
    "files_removed_total",
    "Files removed because their object is gone from a complete listing.",
  );

  constructor(options: { defaultMetrics?: boolean } = {}) {
    for (const kind of ERROR_KINDS) this.errors.inc({ kind }, 0);
    for (const result of ["success", "failure", "aborted"]) this.syncs.inc({ result }, 0);
    this.setRejected(new Map());
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Makes the fresh gauge ask `isFresh` at each scrape (health.ts). */
  watchFreshness(isFresh: () => boolean, maxAgeSeconds: number): void {
    this.freshness = isFresh;
    this.freshnessMaxAge.set(maxAgeSeconds);
  }

  /** Sets rejected_objects for every rejection kind (0 for the kinds not in `counts`). */
  setRejected(counts: ReadonlyMap<ErrorKind, number>): void {
    for (const kind of REJECTION_KINDS) this.rejectedObjects.set({ kind }, counts.get(kind) ?? 0);
  }

  /** Plugs into S3ObjectStore to count requests. */
  readonly observeRequest: RequestObserver = (operation, outcome) => {
    this.s3Requests.inc({ operation, outcome });
  };

  /** Total S3 requests for one operation, all outcomes (tests, benchmarks). */
  async requestCount(operation: string): Promise<number> {
    const metric = await this.s3Requests.get();
    return metric.values.filter((v) => v.labels.operation === operation).reduce((sum, v) => sum + v.value, 0);
  }

  async errorCount(kind: ErrorKind): Promise<number> {
    const metric = await this.errors.get();
    return metric.values.find((v) => v.labels.kind === kind)?.value ?? 0;
  }
}
