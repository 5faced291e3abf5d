import type { ObjectRef } from "../shared/file-sd.js";

export type { ObjectRef };

export interface StoredObject {
  body: string;
  etag: string;
}

/**
 * `targets`: the file_sd JSON Prometheus reads. `state`: the engine's own record of a cluster (task
 * versions, tombstones, cached task definitions and hosts), kept apart so readers of the targets never
 * see it.
 */
export type ObjectKind = "targets" | "state";

/**
 * A place objects are published: S3 for the Lambda, a directory for the CLI. Writes are conditional on
 * what was read, so two runs at once can never silently overwrite each other.
 */
export interface TargetOutput {
  /** For summaries and logs, e.g. `s3://bucket/targets/` or a directory path. */
  readonly location: string;
  locationOf(ref: ObjectRef, kind?: ObjectKind): string;
  read(ref: ObjectRef, kind?: ObjectKind): Promise<StoredObject | undefined>;
  /**
   * Writes only if the object is still `expected` (absent when undefined). Returns the new ETag, or
   * undefined when the object changed in between (a conflict).
   */
  write(
    ref: ObjectRef,
    body: string,
    expected: StoredObject | undefined,
    kind?: ObjectKind,
  ): Promise<string | undefined>;
  /** Removes both the targets and the state of a cluster. */
  remove(ref: ObjectRef): Promise<void>;
  /** Names of the clusters that have a published targets object for this account and region. */
  listPublishedClusters(accountId: string, region: string): Promise<string[]>;
}
