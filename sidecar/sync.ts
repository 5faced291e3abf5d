/**
 * The poll: the S3 prefix of one or more buckets → one local directory of file_sd files, one poll at a
 * time. It keeps the promises sidecar/README.md makes to operators:
 * - one ListObjectsV2 per bucket and poll (all pages); a GET only for an object whose ETag differs from the
 *   one last fetched (with IfNoneMatch), so an unchanged poll is one LIST per bucket and no GET;
 * - an object is validated as file_sd before it touches the disk; a bad object keeps the last good file;
 * - the buckets' objects merge into one directory (merge.ts): on a key two buckets hold, the bucket given
 *   first wins and the other's is skipped and reported;
 * - a local file is removed only when its object is absent from a listing that succeeded completely, and
 *   only if this sidecar owns it (owners.ts, ownership.ts); a bucket whose listing failed keeps its files,
 *   while the other buckets sync; the sync succeeds only when every bucket was listed;
 * - an empty listing is not trusted until this process has seen a non-empty one of that bucket (a wrong
 *   prefix, a bucket being recreated or a publisher that has not run yet must not wipe Prometheus's targets);
 * - writes are atomic (LocalDir.writeAtomic) and never outside the directory (parseObjectKey in
 *   lambda/shared/file-sd.ts, then assertPlainName).
 */
import { mapLimit } from "../lambda/shared/concurrency.js";
import type { TargetGroup } from "../lambda/shared/file-sd.js";
import { type BucketSource, ObjectFetcher, type Source } from "./fetch.js";
import type { LocalDir } from "./localdir.js";
import type { Logger } from "./log.js";
import { type Merged, mergeListings } from "./merge.js";
import type { ErrorKind, SidecarMetrics } from "./metrics.js";
import { checkObject } from "./object-check.js";
import { Owners } from "./owners.js";
import { syncId } from "./ownership.js";
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

export type { BucketSource } from "./fetch.js";
export { sha256, syncId } from "./ownership.js";
export type { SyncResult } from "./sync-status.js";

export interface SyncOptions {
  /** The bucket, when the Syncer is given one store rather than a list of BucketSource. */
  bucket?: string;
  prefix: string;
  maxObjectBytes: number;
  /** Trust an empty listing even before a non-empty one was seen (removes every owned file). */
  trustEmptyListing?: boolean;
  /** Objects fetched in parallel. */
  concurrency?: number;
}

/** Buckets listed at once. */
const LIST_CONCURRENCY = 8;

function sourcesOf(stores: ObjectStore | readonly BucketSource[], options: SyncOptions): BucketSource[] {
  if (!("list" in stores)) {
    const names = stores.map((source) => source.bucket);
    if (names.length === 0 || new Set(names).size < names.length) {
      throw new Error(`Syncer: buckets must be one or more, each once, got ${JSON.stringify(names)}`);
    }
    return [...stores];
  }
  if (options.bucket === undefined) throw new Error("Syncer: options.bucket is required with one store");
  return [{ bucket: options.bucket, store: stores }];
}

export class Syncer {
  readonly id: string;
  /** The first bucket's state file (the only one with one bucket). */
  readonly stateFileName: string;
  readonly stateFileNames: readonly string[];
  private readonly sources: Source[];
  private readonly owners: Owners;
  private readonly view: TargetsView;
  private readonly objects: ObjectFetcher;
  /** The syncs so far: what /readyz and /healthz report. */
  readonly history = new SyncHistory();

  /** `stores`: one store (and `options.bucket`), or the buckets in order of precedence. */
  constructor(
    stores: ObjectStore | readonly BucketSource[],
    private readonly dir: LocalDir,
    private readonly options: SyncOptions,
    private readonly logger: Logger,
    private readonly metrics: SidecarMetrics,
  ) {
    const buckets = sourcesOf(stores, options);
    const several = buckets.length > 1;
    this.sources = buckets.map(({ bucket, store }, index) => ({
      bucket,
      store,
      index,
      seen: new SeenKeys(logger, several ? bucket : undefined),
      lastNames: new Set<string>(),
      sawObjects: false,
      syncedOnce: false,
    }));
    const names = buckets.map((b) => b.bucket);
    this.id = syncId(names.join(","), options.prefix);
    this.owners = new Owners(dir, names, options.prefix, logger);
    this.stateFileNames = this.owners.fileNames;
    this.stateFileName = this.stateFileNames[0] as string;
    this.view = new TargetsView(metrics);
    this.objects = new ObjectFetcher({
      dir,
      owners: this.owners,
      view: this.view,
      metrics,
      logger,
      maxObjectBytes: options.maxObjectBytes,
      severalBuckets: several,
      countError: (kind, result, error) => this.countError(kind, result, error),
    });
  }

  /** The buckets, in order of precedence. */
  get buckets(): string[] {
    return this.sources.map((source) => source.bucket);
  }

  /** Unix ms of the last fully successful sync. */
  get lastSuccess(): number | undefined {
    return this.history.lastSuccessMs;
  }

  /** True once one sync has succeeded in this process. */
  get hasSynced(): boolean {
    return this.history.lastSuccessMs !== undefined;
  }

  /**
   * Whether /targets may answer: after a fully successful sync; or, reading several buckets, once a poll
   * has ended and every bucket's targets are known, from a poll of it that succeeded during this run, or from its
   * state file in the directory. So one bucket that cannot be listed does not hold back the others' targets,
   * yet a bucket never seen is never served as if it had none.
   */
  get targetsReady(): boolean {
    if (this.hasSynced) return true;
    if (this.sources.length < 2 || this.history.lastAttempt === undefined) return false;
    return this.sources.every((s) => s.syncedOnce || this.owners.ledger(s.index).restored);
  }

  /** Names of the files this sidecar owns, all buckets. */
  ownedFiles(): string[] {
    return this.owners.names();
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

  /** Creates the directory, removes stale temp files of this writer, loads the state files. */
  async init(): Promise<void> {
    await this.dir.ensure();
    const names = await this.dir.listNames();
    const stale = names.filter((n) => this.dir.isOwnTempFile(n));
    for (const name of stale) await this.dir.remove(name);
    if (stale.length > 0) this.logger.log("info", "stale_temp_files_removed", { count: stale.length });

    await this.owners.load(names, (index, { name, key, etag, bytes }) => {
      const source = this.source(index);
      if (etag) source.seen.remember(key, etag);
      source.lastNames.add(name);
      const check = checkObject(bytes, this.options.maxObjectBytes);
      if (check.ok) this.view.set(name, check.compact, check.targets, bytes.byteLength);
    });
    const several = this.sources.length > 1;
    this.logger.log("info", "started", {
      bucket: several ? undefined : this.buckets[0],
      buckets: several ? this.buckets : undefined,
      prefix: this.options.prefix,
      dir: this.dir.path,
      owned_files: this.owners.size,
      state_file: several ? undefined : this.stateFileName,
      state_files: several ? this.stateFileNames : undefined,
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
      if (!(await this.owners.persist())) this.countError("state_failed", result);
    }
  }

  private async poll(signal: AbortSignal, result: SyncResult): Promise<Outcome> {
    const listings = await mapLimit(this.sources, LIST_CONCURRENCY, (source) =>
      this.list(source, signal, result),
    );
    if (signal.aborted) return "aborted";
    const held = this.heldNames(listings);
    const merged = mergeListings(listings, this.options.prefix, held);
    this.noteListings(merged, listings, result);

    const changed = [...merged.wanted].filter(
      ([, { source, object }]) => this.source(source).seen.etag(object.key) !== object.etag,
    );
    const fetched = await mapLimit(changed, this.options.concurrency ?? 4, async ([name, claim]) =>
      signal.aborted ? true : this.objects.fetchOne(name, claim, this.source(claim.source), signal, result),
    );
    if (signal.aborted) return "aborted";
    let failed = fetched.includes(false) || listings.includes(undefined);
    const fetchFailed = new Set(changed.filter((_, i) => fetched[i] === false).map(([, c]) => c.source));

    if (!(await this.removeGone(merged, held, signal, result))) failed = true;
    for (const source of this.sources) {
      if ((merged.names[source.index]?.size ?? 0) > 0) source.sawObjects = true;
      const complete = listings[source.index] !== undefined && !fetchFailed.has(source.index);
      if (complete && !signal.aborted) source.syncedOnce = true;
    }
    if (signal.aborted) return "aborted";
    return failed ? "failure" : "success";
  }

  /** One bucket's listing, or undefined when it failed (logged and counted; its files stay). */
  private async list(source: Source, signal: AbortSignal, result: SyncResult) {
    try {
      const listing = await source.store.list(this.options.prefix, signal);
      result.listed += listing.length;
      return listing;
    } catch (error) {
      if (signal.aborted) return undefined;
      result.bucketsFailed++;
      this.countError("list_failed", result, error);
      this.logger.log("error", "list_failed", {
        bucket: source.bucket,
        prefix: this.options.prefix,
        error,
        note:
          this.sources.length > 1
            ? "this bucket's files kept; the other buckets sync; retried next poll"
            : "local files kept",
      });
      return undefined;
    }
  }

  /** For each name a bucket whose listing failed still claims (owned or last listed): the first such bucket. */
  private heldNames(listings: ReadonlyArray<readonly ListedObject[] | undefined>): Map<string, number> {
    const held = new Map<string, number>();
    for (const source of this.sources) {
      if (listings[source.index] !== undefined) continue;
      for (const name of [...this.owners.ledger(source.index).names(), ...source.lastNames]) {
        if (!held.has(name)) held.set(name, source.index);
      }
    }
    return held;
  }

  /** Remembers what each complete listing held, and reports its refused keys and duplicates. */
  private noteListings(
    merged: Merged,
    listings: ReadonlyArray<readonly ListedObject[] | undefined>,
    result: SyncResult,
  ): void {
    for (const source of this.sources) {
      const listing = listings[source.index];
      if (listing === undefined) continue;
      source.seen.keepOnly(new Set(listing.map((object) => object.key)));
      source.lastNames = merged.names[source.index] ?? new Set();
    }
    for (const { source, object, reason } of merged.invalid) {
      const { key, etag } = object;
      this.objects.rejectOnce(this.source(source), key, etag, "invalid_key", reason, undefined, result);
    }
    for (const { source, object, name, keptBy, held } of merged.duplicates) {
      const first = this.source(keptBy).bucket;
      const reason = held
        ? `bucket "${first}", given earlier, holds this file, and its listing failed: its file stays`
        : `bucket "${first}", given earlier, holds the same key: its object has the file`;
      // Whatever was fetched of this key no longer says what the file holds.
      this.source(source).seen.forget(object.key);
      const { key, etag } = object;
      this.objects.rejectOnce(this.source(source), key, etag, "duplicate_key", reason, name, result);
    }
  }

  /**
   * Removes the owned files whose objects their bucket's complete listing no longer has, unless another
   * bucket has them now or a bucket whose listing failed still claims them. False when one failed.
   */
  private async removeGone(
    merged: Merged,
    held: ReadonlyMap<string, number>,
    signal: AbortSignal,
    result: SyncResult,
  ): Promise<boolean> {
    let ok = true;
    for (const source of this.sources) {
      const names = merged.names[source.index];
      if (names === undefined || !this.trusts(source, names)) continue;
      for (const name of this.owners.ledger(source.index).names()) {
        if (merged.wanted.has(name) || held.has(name) || signal.aborted) continue;
        try {
          await this.dir.remove(name);
          this.owners.release(name);
          this.view.delete(name);
          result.removed++;
          this.metrics.filesRemoved.inc();
          this.logger.log("info", "file_removed", {
            file: name,
            bucket: this.sources.length > 1 ? source.bucket : undefined,
            reason: "object gone from the listing",
          });
        } catch (error) {
          ok = false;
          this.countError("remove_failed", result, error);
          this.logger.log("error", "remove_failed", { file: name, error });
        }
      }
    }
    return ok;
  }

  /** False (and logged) for an empty listing of a bucket that owns files and listed nothing since start. */
  private trusts(source: Source, names: ReadonlySet<string>): boolean {
    const owned = this.owners.ledger(source.index).size;
    if (names.size > 0 || source.sawObjects || this.options.trustEmptyListing || owned === 0) return true;
    this.logger.log("warn", "empty_listing_not_trusted", {
      bucket: source.bucket,
      prefix: this.options.prefix,
      owned_files: owned,
      note: "no valid object under the prefix and none seen since start: existing files kept",
    });
    return false;
  }

  private source(index: number): Source {
    const source = this.sources[index];
    if (!source) throw new Error(`no bucket #${index}`);
    return source;
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
    this.history.record(outcome, result.durationMs, undefined, result.bucketsFailed);
    if (result.ok) this.metrics.lastSuccess.set((this.history.lastSuccessMs ?? 0) / 1000);
    const rejected = new Map<ErrorKind, number>();
    for (const source of this.sources) {
      for (const [kind, count] of source.seen.rejectedByKind())
        rejected.set(kind, (rejected.get(kind) ?? 0) + count);
    }
    this.metrics.setRejected(rejected);
    this.view.publishGauges();
    logSyncFinished(this.logger, result, outcome, this.view.size);
    return result;
  }
}
