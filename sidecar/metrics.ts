/** The sidecar's Prometheus metrics, in a registry of its own. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { RequestObserver } from "./store.js";

export const ERROR_KINDS = [
  "list_failed",
  "get_failed",
  "invalid_key",
  "too_large",
  "not_utf8",
  "not_json",
  "bad_shape",
  "write_failed",
  "remove_failed",
  "state_failed",
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

const P = "ecs_discovery_sidecar_";

export class SidecarMetrics {
  readonly registry = new Registry();
  readonly lastSuccess = new Gauge({
    name: `${P}last_successful_sync_timestamp_seconds`,
    help: "Unix time of the last sync whose S3 listing and fetches all succeeded.",
    registers: [this.registry],
  });
  readonly syncDuration = new Histogram({
    name: `${P}sync_duration_seconds`,
    help: "Duration of one sync (LIST, changed GETs, writes, removals).",
    labelNames: ["result"] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly syncs = new Counter({
    name: `${P}syncs_total`,
    help: "Syncs by result (success, failure, aborted).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly objects = new Gauge({
    name: `${P}objects`,
    help: "Objects with a good (valid) version currently published.",
    registers: [this.registry],
  });
  readonly bytes = new Gauge({
    name: `${P}object_bytes`,
    help: "Total size of the published good objects.",
    registers: [this.registry],
  });
  readonly targets = new Gauge({
    name: `${P}targets`,
    help: "Targets in the published good objects.",
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: `${P}errors_total`,
    help: "Errors by kind (bad keys and bad objects are counted once per key and ETag).",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly s3Requests = new Counter({
    name: `${P}s3_requests_total`,
    help: "S3 requests by operation and outcome.",
    labelNames: ["operation", "outcome"] as const,
    registers: [this.registry],
  });
  readonly filesWritten = new Counter({
    name: `${P}files_written_total`,
    help: "Files written (atomically) because an object changed.",
    registers: [this.registry],
  });
  readonly filesRemoved = new Counter({
    name: `${P}files_removed_total`,
    help: "Files removed because their object is gone from a complete listing.",
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    for (const kind of ERROR_KINDS) this.errors.inc({ kind }, 0);
    for (const result of ["success", "failure", "aborted"]) this.syncs.inc({ result }, 0);
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
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
