/**
 * One changed object of one bucket on its way to the directory: conditional GET, validation
 * (object-check.ts), atomic write under its flat name, ownership by that bucket (owners.ts), and the good
 * version /targets serves. A bad object is refused once per key and ETag and keeps the last good file.
 */
import type { LocalDir } from "./localdir.js";
import type { Logger } from "./log.js";
import type { Claim } from "./merge.js";
import type { ErrorKind, SidecarMetrics } from "./metrics.js";
import { checkObject, type ObjectCheck } from "./object-check.js";
import type { Owners } from "./owners.js";
import { sha256 } from "./ownership.js";
import type { SeenKeys } from "./seen-keys.js";
import type { ObjectStore } from "./store.js";
import type { SyncResult } from "./sync-status.js";
import type { TargetsView } from "./targets-view.js";

/** One bucket to read, through its store. */
export interface BucketSource {
  bucket: string;
  store: ObjectStore;
}

/** What the poll keeps of one bucket between polls. */
export interface Source extends BucketSource {
  /** Its place in the order the buckets are given: the first of two holding a key wins. */
  index: number;
  seen: SeenKeys;
  /** The file names of its last complete listing: held for it while its listing fails. */
  lastNames: Set<string>;
  /** A valid key was listed during this run: from then on an empty listing is trusted. */
  sawObjects: boolean;
  /** Listed, and every changed object of it fetched, at least once during this run. */
  syncedOnce: boolean;
}

/** What the object path shares with the poll. */
export interface FetchContext {
  dir: LocalDir;
  owners: Owners;
  view: TargetsView;
  metrics: SidecarMetrics;
  logger: Logger;
  maxObjectBytes: number;
  /** Bucket names go into the log lines only when there are several. */
  severalBuckets: boolean;
  countError(kind: ErrorKind, result: SyncResult, error?: unknown): void;
}

/** A fetched object that passed validation, on its way to the directory. */
interface ValidObject {
  source: Source;
  name: string;
  key: string;
  etag: string;
  body: Uint8Array;
  check: Extract<ObjectCheck, { ok: true }>;
}

export class ObjectFetcher {
  constructor(private readonly context: FetchContext) {}

  /** Fetches, validates and writes one changed object. False when the sync must count as failed. */
  async fetchOne(
    name: string,
    { object }: Claim,
    source: Source,
    signal: AbortSignal,
    result: SyncResult,
  ): Promise<boolean> {
    const { key } = object;
    const { maxObjectBytes: maxBytes, logger } = this.context;
    if (object.size > maxBytes) {
      return this.refuse(source, key, object.etag, "too_large", this.tooLarge(object.size), name, result);
    }
    let response: Awaited<ReturnType<ObjectStore["get"]>>;
    try {
      response = await source.store.get(key, { ifNoneMatch: source.seen.etag(key), maxBytes, signal });
    } catch (error) {
      if (signal.aborted) return true;
      this.context.countError("get_failed", result, error);
      logger.log("error", "get_failed", {
        bucket: this.bucketField(source),
        key,
        error,
        note: "last good file kept, retried next poll",
      });
      return false;
    }
    switch (response.status) {
      case "not_modified":
        result.notModified++;
        return true;
      case "not_found":
        // Deleted between LIST and GET: the next complete listing decides.
        logger.log("info", "object_vanished", { bucket: this.bucketField(source), key });
        return true;
      case "too_large":
        return this.refuse(source, key, object.etag, "too_large", this.tooLarge(response.size), name, result);
    }
    result.fetched++;
    const etag = response.etag ?? object.etag;
    const check = checkObject(response.body, maxBytes);
    if (!check.ok) return this.refuse(source, key, etag, check.kind, check.reason, name, result);
    return this.keep({ source, name, key, etag, body: response.body, check }, signal, result);
  }

  /** Counts a refused key or object, and logs it once per key and ETag (and kind). */
  rejectOnce(
    source: Source,
    key: string,
    etag: string,
    kind: ErrorKind,
    reason: string,
    fileName: string | undefined,
    result: SyncResult,
  ): void {
    result.rejected++;
    const kept = fileName !== undefined && this.context.owners.has(fileName) ? fileName : undefined;
    if (source.seen.reject(key, etag, kind, reason, kept)) this.context.countError(kind, result);
  }

  /** Puts a valid object in place (unless the file already holds it) and makes it the good version. */
  private async keep(object: ValidObject, signal: AbortSignal, result: SyncResult): Promise<boolean> {
    const { source, name, key, etag, body, check } = object;
    const { dir, owners, view } = this.context;
    const hash = sha256(body);
    try {
      // Hashed as a stream: reading the old file whole would hold a second copy of a large object.
      const current = await dir.hash(name);
      if (current === hash) result.unchanged++;
      else if (signal.aborted) return true;
      else await this.write(object, current !== undefined, result);
    } catch (error) {
      this.context.countError("write_failed", result, error);
      this.context.logger.log("error", "write_failed", {
        file: name,
        key,
        error,
        note: "retried next poll",
      });
      return false;
    }
    owners.record(source.index, name, { key, etag, sha256: hash });
    view.set(name, check.compact, check.targets, body.byteLength);
    source.seen.accept(key, etag);
    return true;
  }

  private async write(object: ValidObject, replacing: boolean, result: SyncResult): Promise<void> {
    const { source, name, key, etag, body, check } = object;
    const { owners, logger } = this.context;
    const owner = owners.ownerOf(name);
    if (owner !== source.index) {
      if (!(await owners.claim(source.index, name, key))) this.context.countError("state_failed", result);
      if (owner !== undefined) {
        logger.log("info", "file_taken_over", {
          file: name,
          key,
          bucket: source.bucket,
          from_bucket: owners.ledger(owner).source.bucket,
          note: "the file now holds this bucket's object",
        });
      } else if (replacing) {
        logger.log("warn", "file_adopted", {
          file: name,
          key,
          note: "overwriting a file not written by this sidecar",
        });
      }
    }
    await this.context.dir.writeAtomic(name, body);
    result.written++;
    this.context.metrics.filesWritten.inc();
    logger.log("info", "file_written", {
      file: name,
      bucket: this.bucketField(source),
      key,
      etag,
      bytes: body.byteLength,
      groups: check.groups,
      targets: check.targets,
    });
  }

  /** A bad object: reported once per ETag, and not fetched again until its ETag changes. */
  private refuse(
    source: Source,
    key: string,
    etag: string,
    kind: ErrorKind,
    reason: string,
    name: string,
    result: SyncResult,
  ): true {
    this.rejectOnce(source, key, etag, kind, reason, name, result);
    source.seen.remember(key, etag);
    return true;
  }

  private tooLarge(size: number): string {
    return `object is ${size} bytes, limit ${this.context.maxObjectBytes}`;
  }

  private bucketField(source: Source): string | undefined {
    return this.context.severalBuckets ? source.bucket : undefined;
  }
}
