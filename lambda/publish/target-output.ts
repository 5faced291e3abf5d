/** Where one cluster's objects live, independent of the medium. */
export interface ObjectRef {
  accountId: string;
  region: string;
  name: string;
}

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
  /** Cluster names that have a targets object for this account and region. */
  listClusters(accountId: string, region: string): Promise<string[]>;
}

export const CLUSTER_NAME = /^[A-Za-z0-9_-]{1,255}$/;

/** The file name the CLI writes and the sidecar derives from the S3 key: `{account}_{region}_{cluster}.json`. */
export function flatFileName(ref: ObjectRef): string {
  return `${ref.accountId}_${ref.region}_${ref.name}.json`;
}

export function objectKey(prefix: string, ref: ObjectRef): string {
  return `${prefix}${ref.accountId}/${ref.region}/${ref.name}.json`;
}
