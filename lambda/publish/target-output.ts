/** Where one cluster's file_sd object lives, independent of the medium. */
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
 * A place file_sd objects are published: S3 for the Lambda, a directory for the CLI. Writes are
 * conditional on what was read, so two runs at once can never silently overwrite each other.
 */
export interface TargetOutput {
  /** For summaries and logs, e.g. `s3://bucket/targets/` or a directory path. */
  readonly location: string;
  locationOf(ref: ObjectRef): string;
  read(ref: ObjectRef): Promise<StoredObject | undefined>;
  /** Writes only if the object is still `expected` (absent when undefined); "conflict" otherwise. */
  write(ref: ObjectRef, body: string, expected: StoredObject | undefined): Promise<"written" | "conflict">;
  remove(ref: ObjectRef): Promise<void>;
  /** Cluster names that have an object for this account and region. */
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
