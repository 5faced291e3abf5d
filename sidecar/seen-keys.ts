/**
 * What the poll remembers of each listed S3 key from one poll to the next: the ETag last fetched, so an
 * unchanged object is never fetched again (an unchanged poll is one LIST and no GET), and the ETag it
 * was rejected at, so a bad key or object is logged once per key and ETag, not on every poll. One per
 * bucket: two buckets may hold the same key.
 */
import type { Logger } from "./log.js";
import type { ErrorKind } from "./metrics.js";

const EVENTS: Partial<Record<ErrorKind, string>> = {
  invalid_key: "key_rejected",
  duplicate_key: "duplicate_key",
};

const NOTES: Partial<Record<ErrorKind, string>> = {
  invalid_key: "no file is written for this key",
  duplicate_key: "an earlier bucket's object has this file; this one is skipped while that one is there",
};

export class SeenKeys {
  /** S3 key → ETag last fetched (good or bad). */
  private readonly fetched = new Map<string, string>();
  /** S3 key → the ETag at which it was rejected, and why. */
  private readonly rejected = new Map<string, { etag: string; kind: ErrorKind }>();

  /** `bucket` goes into the log lines; left out, they name no bucket. */
  constructor(
    private readonly logger: Logger,
    private readonly bucket?: string,
  ) {}

  /** The ETag last fetched, for IfNoneMatch. */
  etag(key: string): string | undefined {
    return this.fetched.get(key);
  }

  /** This ETag of the key was fetched (or is on disk intact): it is not fetched again. */
  remember(key: string, etag: string): void {
    this.fetched.set(key, etag);
  }

  /**
   * The key's object is not what its file holds (another bucket's object for the same file won): fetched
   * afresh when it is wanted again.
   */
  forget(key: string): void {
    this.fetched.delete(key);
  }

  /** This ETag of the key was fetched and accepted: a later bad version is reported again. */
  accept(key: string, etag: string): void {
    this.fetched.set(key, etag);
    this.rejected.delete(key);
  }

  /**
   * Logs a rejection unless the key was already rejected at this ETag. True when it was logged: the
   * caller counts it then, and only then.
   */
  reject(key: string, etag: string, kind: ErrorKind, reason: string, keptFile: string | undefined): boolean {
    const previous = this.rejected.get(key);
    if (previous?.etag === etag && previous.kind === kind) return false;
    this.rejected.set(key, { etag, kind });
    this.logger.log("warn", EVENTS[kind] ?? "object_rejected", {
      bucket: this.bucket,
      key,
      etag,
      kind,
      reason,
      kept_file: keptFile,
      note: NOTES[kind] ?? "last good file (if any) kept",
    });
    return true;
  }

  /** Listed keys whose latest version is refused, by why: the rejected_objects gauge. */
  rejectedByKind(): Map<ErrorKind, number> {
    const counts = new Map<ErrorKind, number>();
    for (const { kind } of this.rejected.values()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
    return counts;
  }

  /** Forgets the keys a listing no longer has, so one that comes back is fetched and reported afresh. */
  keepOnly(listed: ReadonlySet<string>): void {
    for (const key of [...this.fetched.keys()]) if (!listed.has(key)) this.fetched.delete(key);
    for (const key of [...this.rejected.keys()]) if (!listed.has(key)) this.rejected.delete(key);
  }
}
