/**
 * The poll: S3 prefix → local directory of file_sd files, one poll at a time. It keeps the promises
 * sidecar/README.md makes to operators:
 * - one ListObjectsV2 per poll (all pages); a GET only for an object whose ETag differs from the one last
 *   fetched (with IfNoneMatch), so an unchanged poll is one LIST and no GET;
 * - an object is validated as file_sd before it touches the disk; a bad object keeps the last good file;
 * - a local file is removed only when its object is absent from a listing that succeeded completely, and
 *   only if this sidecar owns it (ownership.ts);
 * - an empty listing is not trusted until this process has seen a non-empty one (a wrong prefix, a bucket
 *   being recreated or a publisher that has not run yet must not wipe Prometheus's targets);
 * - writes are atomic (LocalDir.writeAtomic) and never outside the directory (parseObjectKey in
 *   lambda/shared/file-sd.ts, then assertPlainName).
 */
import { mapLimit } from "../lambda/shared/concurrency.js";
import { parseObjectKey, type TargetGroup } from "../lambda/shared/file-sd.js";
import type { LocalDir } from "./localdir.js";
import type { Logger } from "./log.js";
import type { ErrorKind, SidecarMetrics } from "./metrics.js";
import { checkObject, type ObjectCheck } from "./object-check.js";
import { OwnershipLedger, sha256, syncId } from "./ownership.js";
import { SeenKeys } from "./seen-keys.js";
import type { ListedObject, ObjectStore } from "./store.js";
import {
  deadlineSignal,
  emptyResult,
  logSyncFinished,
  type Outcome,
  SyncHistory,
  type SyncResult,
} from "./sync-status.js";
import { type TargetsBody, TargetsView } from "./targets-view.js";

export { sha256, syncId } from "./ownership.js";
export type { SyncResult } from "./sync-status.js";

export interface SyncOptions {
  bucket: string;
  prefix: string;
  maxObjectBytes: number;
  /** Trust an empty listing even before a non-empty one was seen (removes every owned file). */
  trustEmptyListing?: boolean;
  /** Objects fetched in parallel. */
  concurrency?: number;
}

/** A fetched object that passed validation, on its way to the directory. */
interface ValidObject {
  name: string;
  key: string;
  etag: string;
  body: Uint8Array;
  check: Extract<ObjectCheck, { ok: true }>;
}

export class Syncer {
  readonly id: string;
  readonly stateFileName: string;
  private readonly ownership: OwnershipLedger;
  private readonly view: TargetsView;
  private readonly seen: SeenKeys;
  private sawObjects = false;
  /** The syncs so far: what /readyz and /healthz report. */
  readonly history = new SyncHistory();

  constructor(
    private readonly store: ObjectStore,
    private readonly dir: LocalDir,
    private readonly options: SyncOptions,
    private readonly logger: Logger,
    private readonly metrics: SidecarMetrics,
  ) {
    this.id = syncId(options.bucket, options.prefix);
    this.ownership = new OwnershipLedger(dir, options, logger);
    this.stateFileName = this.ownership.fileName;
    this.view = new TargetsView(metrics);
    this.seen = new SeenKeys(logger);
  }

  /** Unix ms of the last fully successful sync. */
  get lastSuccess(): number | undefined {
    return this.history.lastSuccessMs;
  }

  /** True once one sync has succeeded in this process. */
  get hasSynced(): boolean {
    return this.history.lastSuccessMs !== undefined;
  }

  /** Names of the files this sidecar owns. */
  ownedFiles(): string[] {
    return this.ownership.names();
  }

  /** Every good object's groups, merged, in file name order (the http_sd answer). */
  targetGroups(): TargetGroup[] {
    return this.view.groups();
  }

  targetsJson(): string {
    return this.view.json();
  }

  /** The same answer as targetsJson, streamed (what the HTTP server sends). */
  targetsBody(): TargetsBody {
    return this.view.body();
  }

  /** Creates the directory, removes stale temp files of this writer, loads the state file. */
  async init(): Promise<void> {
    await this.dir.ensure();
    const names = await this.dir.listNames();
    const stale = names.filter((n) => this.dir.isOwnTempFile(n));
    for (const name of stale) await this.dir.remove(name);
    if (stale.length > 0) this.logger.log("info", "stale_temp_files_removed", { count: stale.length });

    await this.ownership.load(names, ({ name, key, etag, bytes }) => {
      if (etag) this.seen.remember(key, etag);
      const check = checkObject(bytes, this.options.maxObjectBytes);
      if (check.ok) this.view.set(name, check.compact, check.targets, bytes.byteLength);
    });
    this.logger.log("info", "started", {
      bucket: this.options.bucket,
      prefix: this.options.prefix,
      dir: this.dir.path,
      owned_files: this.ownership.size,
      state_file: this.stateFileName,
    });
    this.view.publishGauges();
  }

  /**
   * One poll. Never throws: failures are logged, counted and reported in the result. A poll still running
   * after `timeoutMs` is aborted like a stop (nothing half-written, every file kept) and counts as failed:
   * a hung request must not hold the loop, whose liveness /healthz reports.
   */
  async syncOnce(
    signal: AbortSignal = new AbortController().signal,
    timeoutMs?: number,
  ): Promise<SyncResult> {
    const started = performance.now();
    const result = emptyResult();
    const deadline = deadlineSignal(signal, timeoutMs);
    try {
      let outcome = await this.poll(deadline.signal, result);
      if (outcome === "aborted" && deadline.timedOut()) {
        outcome = "failure";
        this.countError("sync_timeout", result, deadline.signal.reason);
        this.logger.log("error", "sync_timed_out", {
          timeout_ms: timeoutMs,
          note: "requests in flight aborted, local files kept, retried next poll",
        });
      }
      return this.finish(result, started, outcome);
    } finally {
      deadline.dispose();
      if (!(await this.ownership.persist())) this.countError("state_failed", result);
    }
  }

  private async poll(signal: AbortSignal, result: SyncResult): Promise<Outcome> {
    let listing: ListedObject[];
    try {
      listing = await this.store.list(this.options.prefix, signal);
    } catch (error) {
      if (signal.aborted) return "aborted";
      this.countError("list_failed", result, error);
      this.logger.log("error", "list_failed", {
        bucket: this.options.bucket,
        prefix: this.options.prefix,
        error,
        note: "local files kept",
      });
      return "failure";
    }
    result.listed = listing.length;
    const wanted = this.wantedFiles(listing, result);

    const changed = [...wanted].filter(([, object]) => this.seen.etag(object.key) !== object.etag);
    const fetched = await mapLimit(changed, this.options.concurrency ?? 4, async ([name, object]) =>
      signal.aborted ? true : this.fetchOne(name, object, signal, result),
    );
    if (signal.aborted) return "aborted";
    let failed = fetched.includes(false);

    if (!(await this.removeGone(wanted, signal, result))) failed = true;
    if (wanted.size > 0) this.sawObjects = true;
    if (signal.aborted) return "aborted";
    return failed ? "failure" : "success";
  }

  /** File name → object, for the listed keys that map to a file; forgets what is no longer listed. */
  private wantedFiles(listing: ListedObject[], result: SyncResult): Map<string, ListedObject> {
    const listedKeys = new Set<string>();
    const wanted = new Map<string, ListedObject>();
    for (const object of listing) {
      listedKeys.add(object.key);
      const mapping = parseObjectKey(object.key, this.options.prefix);
      if (!mapping.ok) {
        this.rejectOnce(object.key, object.etag, "invalid_key", mapping.reason, undefined, result);
        continue;
      }
      wanted.set(mapping.fileName, object);
    }
    this.seen.keepOnly(listedKeys);
    return wanted;
  }

  /** Removes the owned files whose objects a complete listing no longer has. False when one failed. */
  private async removeGone(
    wanted: Map<string, ListedObject>,
    signal: AbortSignal,
    result: SyncResult,
  ): Promise<boolean> {
    if (wanted.size === 0 && !this.sawObjects && !this.options.trustEmptyListing && this.ownership.size > 0) {
      this.logger.log("warn", "empty_listing_not_trusted", {
        bucket: this.options.bucket,
        prefix: this.options.prefix,
        owned_files: this.ownership.size,
        note: "no valid object under the prefix and none seen since start: existing files kept",
      });
      return true;
    }
    let ok = true;
    for (const name of this.ownership.names()) {
      if (wanted.has(name) || signal.aborted) continue;
      try {
        await this.dir.remove(name);
        this.ownership.release(name);
        this.view.delete(name);
        result.removed++;
        this.metrics.filesRemoved.inc();
        this.logger.log("info", "file_removed", { file: name, reason: "object gone from the listing" });
      } catch (error) {
        ok = false;
        this.countError("remove_failed", result, error);
        this.logger.log("error", "remove_failed", { file: name, error });
      }
    }
    return ok;
  }

  /** Fetches, validates and writes one changed object. False when the sync must count as failed. */
  private async fetchOne(name: string, object: ListedObject, signal: AbortSignal, result: SyncResult) {
    const { key } = object;
    if (object.size > this.options.maxObjectBytes) {
      return this.refuse(key, object.etag, "too_large", this.tooLarge(object.size), name, result);
    }
    let response: Awaited<ReturnType<ObjectStore["get"]>>;
    try {
      response = await this.store.get(key, {
        ifNoneMatch: this.seen.etag(key),
        maxBytes: this.options.maxObjectBytes,
        signal,
      });
    } catch (error) {
      if (signal.aborted) return true;
      this.countError("get_failed", result, error);
      this.logger.log("error", "get_failed", { key, error, note: "last good file kept, retried next poll" });
      return false;
    }
    switch (response.status) {
      case "not_modified":
        result.notModified++;
        return true;
      case "not_found":
        // Deleted between LIST and GET: the next complete listing decides.
        this.logger.log("info", "object_vanished", { key });
        return true;
      case "too_large":
        return this.refuse(key, object.etag, "too_large", this.tooLarge(response.size), name, result);
    }
    result.fetched++;
    const etag = response.etag ?? object.etag;
    const check = checkObject(response.body, this.options.maxObjectBytes);
    if (!check.ok) return this.refuse(key, etag, check.kind, check.reason, name, result);
    return this.keep({ name, key, etag, body: response.body, check }, signal, result);
  }

  /** Puts a valid object in place (unless the file already holds it) and makes it the good version. */
  private async keep(object: ValidObject, signal: AbortSignal, result: SyncResult): Promise<boolean> {
    const { name, key, etag, body, check } = object;
    const hash = sha256(body);
    try {
      // Hashed as a stream: reading the old file whole would hold a second copy of a large object.
      const current = await this.dir.hash(name);
      if (current === hash) result.unchanged++;
      else if (signal.aborted) return true;
      else await this.write(object, current !== undefined, result);
    } catch (error) {
      this.countError("write_failed", result, error);
      this.logger.log("error", "write_failed", { file: name, key, error, note: "retried next poll" });
      return false;
    }
    this.ownership.record(name, { key, etag, sha256: hash });
    this.view.set(name, check.compact, check.targets, body.byteLength);
    this.seen.accept(key, etag);
    return true;
  }

  private async write(object: ValidObject, replacing: boolean, result: SyncResult): Promise<void> {
    const { name, key, etag, body, check } = object;
    if (!this.ownership.has(name)) {
      if (!(await this.ownership.claim(name, key))) this.countError("state_failed", result);
      if (replacing) {
        this.logger.log("warn", "file_adopted", {
          file: name,
          key,
          note: "overwriting a file not written by this sidecar",
        });
      }
    }
    await this.dir.writeAtomic(name, body);
    result.written++;
    this.metrics.filesWritten.inc();
    this.logger.log("info", "file_written", {
      file: name,
      key,
      etag,
      bytes: body.byteLength,
      groups: check.groups,
      targets: check.targets,
    });
  }

  /** A bad object: reported once per ETag, and not fetched again until its ETag changes. */
  private refuse(
    key: string,
    etag: string,
    kind: ErrorKind,
    reason: string,
    name: string,
    result: SyncResult,
  ): true {
    this.rejectOnce(key, etag, kind, reason, name, result);
    this.seen.remember(key, etag);
    return true;
  }

  private tooLarge(size: number): string {
    return `object is ${size} bytes, limit ${this.options.maxObjectBytes}`;
  }

  private rejectOnce(
    key: string,
    etag: string,
    kind: ErrorKind,
    reason: string,
    fileName: string | undefined,
    result: SyncResult,
  ): void {
    result.rejected++;
    const kept = fileName !== undefined && this.ownership.has(fileName) ? fileName : undefined;
    if (this.seen.reject(key, etag, kind, reason, kept)) this.countError(kind, result);
  }

  private countError(kind: ErrorKind, result: SyncResult, error?: unknown): void {
    result.errors++;
    this.metrics.errors.inc({ kind });
    this.history.noteError(kind, error);
  }

  private finish(result: SyncResult, started: number, outcome: Outcome): SyncResult {
    result.durationMs = performance.now() - started;
    result.ok = outcome === "success";
    result.aborted = outcome === "aborted";
    this.metrics.syncs.inc({ result: outcome });
    this.metrics.syncDuration.observe({ result: outcome }, result.durationMs / 1000);
    this.history.record(outcome, result.durationMs);
    if (result.ok) this.metrics.lastSuccess.set((this.history.lastSuccessMs ?? 0) / 1000);
    this.metrics.setRejected(this.seen.rejectedByKind());
    this.view.publishGauges();
    logSyncFinished(this.logger, result, outcome, this.view.size);
    return result;
  }
}
