/**
 * The sync loop's core: S3 prefix → local directory of file_sd files, one poll at a time.
 *
 * Promises kept here (see DESIGN.md, "Failure semantics"):
 * - one ListObjectsV2 per poll (all pages); a GET only for an object whose ETag differs from the one last
 *   fetched (with IfNoneMatch), so an unchanged poll is one LIST and no GET;
 * - an object is validated as file_sd before it touches the disk; a bad object keeps the last good file;
 * - a local file is removed only when its object is absent from a listing that succeeded completely, and
 *   only if this sidecar owns it (it wrote it, as recorded in its state file; see below);
 * - an empty listing is not trusted until this process has seen a non-empty one (a wrong prefix, a bucket
 *   being recreated or a publisher that has not run yet must not wipe Prometheus's targets);
 * - writes are atomic (LocalDir.writeAtomic) and never outside the directory (keys.ts + assertPlainName).
 *
 * Ownership: the sidecar keeps a state file `.sidecar-<id>.state` in the directory (the id is a hash of
 * bucket and prefix, so two sidecars syncing different prefixes into one directory never remove each
 * other's files). It lists the files this sidecar wrote with their S3 key, ETag and SHA-256. A file that
 * matches the naming pattern but is not in the state file (written by hand, by the engine's CLI, by
 * another sidecar) is never removed; it is overwritten only when an object with that name appears.
 */
import { createHash } from "node:crypto";
import { type FileSdValidation, type TargetGroup, validateFileSd } from "./filesd.js";
import { isOwnedFileName, keyToFileName } from "./keys.js";
import type { LocalDir } from "./localdir.js";
import type { Logger } from "./log.js";
import type { ErrorKind, SidecarMetrics } from "./metrics.js";
import type { ListedObject, ObjectStore } from "./store.js";

export interface SyncOptions {
  bucket: string;
  prefix: string;
  maxObjectBytes: number;
  /** Trust an empty listing even before a non-empty one was seen (removes every owned file). */
  trustEmptyListing?: boolean;
  /** Objects fetched in parallel. */
  concurrency?: number;
}

export interface SyncResult {
  ok: boolean;
  aborted: boolean;
  listed: number;
  fetched: number;
  notModified: number;
  written: number;
  unchanged: number;
  removed: number;
  rejected: number;
  errors: number;
  durationMs: number;
}

interface OwnedEntry {
  key: string;
  etag: string | undefined;
  sha256: string;
}

interface GoodObject {
  key: string;
  /**
   * The validated groups, re-serialized without the enclosing brackets. A string costs a fraction of
   * the parsed objects (tens of labels per group), and /targets is then a join, not a stringify.
   */
  groupsJson: string;
  bytes: number;
  targets: number;
}

interface StateFile {
  version: 1;
  bucket: string;
  prefix: string;
  files: Record<string, OwnedEntry>;
}

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Short id of a (bucket, prefix) pair: names the state file and temp files. */
export function syncId(bucket: string, prefix: string): string {
  return sha256(Buffer.from(`${bucket}\n${prefix}`)).slice(0, 12);
}

export class Syncer {
  readonly id: string;
  readonly stateFileName: string;
  private readonly owned = new Map<string, OwnedEntry>();
  private readonly good = new Map<string, GoodObject>();
  /** S3 key → ETag last fetched (good or bad): an unchanged ETag is never fetched again. */
  private readonly lastFetched = new Map<string, string>();
  /** S3 key → ETag at which it was rejected (logged once per key and ETag). */
  private readonly rejected = new Map<string, string>();
  private sawObjects = false;
  private lastSuccessMs: number | undefined;
  private synced = false;
  private targetsCache: string | undefined;
  private stateWrite: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: ObjectStore,
    private readonly dir: LocalDir,
    private readonly options: SyncOptions,
    private readonly logger: Logger,
    private readonly metrics: SidecarMetrics,
  ) {
    this.id = syncId(options.bucket, options.prefix);
    this.stateFileName = `.sidecar-${this.id}.state`;
  }

  /** Unix ms of the last fully successful sync. */
  get lastSuccess(): number | undefined {
    return this.lastSuccessMs;
  }

  /** True once one sync has succeeded in this process. */
  get hasSynced(): boolean {
    return this.synced;
  }

  /** Names of the files this sidecar owns. */
  ownedFiles(): string[] {
    return [...this.owned.keys()].sort();
  }

  /** Every good object's groups, merged, in file name order (the http_sd answer). */
  targetGroups(): TargetGroup[] {
    return JSON.parse(this.targetsJson()) as TargetGroup[];
  }

  targetsJson(): string {
    this.targetsCache ??= `[${[...this.good.keys()]
      .sort()
      .map((name) => this.good.get(name)?.groupsJson ?? "")
      .filter((json) => json !== "")
      .join(",")}]`;
    return this.targetsCache;
  }

  /** Creates the directory, removes stale temp files of this writer, loads the state file. */
  async init(): Promise<void> {
    await this.dir.ensure();
    const names = await this.dir.listNames();
    const stale = names.filter((n) => this.dir.isOwnTempFile(n));
    for (const name of stale) await this.dir.remove(name);
    if (stale.length > 0) this.logger.log("info", "stale_temp_files_removed", { count: stale.length });

    const state = await this.readState();
    for (const [name, entry] of Object.entries(state?.files ?? {})) {
      if (!isOwnedFileName(name) || typeof entry?.key !== "string") continue;
      let bytes: Uint8Array | undefined;
      try {
        bytes = await this.dir.read(name);
      } catch (error) {
        this.logger.log("warn", "owned_file_unreadable", { file: name, error, note: "no longer owned" });
        continue;
      }
      if (bytes === undefined) continue; // gone: no longer ours
      const hash = sha256(bytes);
      const intact = hash === entry.sha256;
      this.owned.set(name, { key: entry.key, etag: intact ? entry.etag : undefined, sha256: hash });
      if (intact && entry.etag) this.lastFetched.set(entry.key, entry.etag);
      const check = validateFileSd(bytes, this.options.maxObjectBytes);
      if (check.ok) this.setGood(name, entry.key, check, bytes.byteLength);
    }
    const unowned = names.filter((n) => isOwnedFileName(n) && !this.owned.has(n));
    if (unowned.length > 0) {
      this.logger.log("info", "unowned_files_left_alone", {
        dir: this.dir.path,
        count: unowned.length,
        files: unowned.slice(0, 20),
        note: "files not written by this sidecar are never removed; one is overwritten only if its object appears",
      });
    }
    this.logger.log("info", "started", {
      bucket: this.options.bucket,
      prefix: this.options.prefix,
      dir: this.dir.path,
      owned_files: this.owned.size,
      state_file: this.stateFileName,
    });
    this.updateGauges();
  }

  /** One poll. Never throws: failures are logged, counted and reported in the result. */
  async syncOnce(signal: AbortSignal = new AbortController().signal): Promise<SyncResult> {
    const started = performance.now();
    const result: SyncResult = {
      ok: false,
      aborted: false,
      listed: 0,
      fetched: 0,
      notModified: 0,
      written: 0,
      unchanged: 0,
      removed: 0,
      rejected: 0,
      errors: 0,
      durationMs: 0,
    };
    let failed = false;
    try {
      let listing: ListedObject[];
      try {
        listing = await this.store.list(this.options.prefix, signal);
      } catch (error) {
        if (signal.aborted) return this.finish(result, started, "aborted");
        this.countError("list_failed", result);
        this.logger.log("error", "list_failed", {
          bucket: this.options.bucket,
          prefix: this.options.prefix,
          error,
          note: "local files kept",
        });
        return this.finish(result, started, "failure");
      }
      result.listed = listing.length;

      const listedKeys = new Set<string>();
      const wanted = new Map<string, ListedObject>(); // file name → object
      for (const object of listing) {
        listedKeys.add(object.key);
        const mapping = keyToFileName(object.key, this.options.prefix);
        if (!mapping.ok) {
          this.rejectOnce(object.key, object.etag, "invalid_key", mapping.reason, undefined, result);
          continue;
        }
        wanted.set(mapping.fileName, object);
      }
      for (const key of [...this.lastFetched.keys()]) if (!listedKeys.has(key)) this.lastFetched.delete(key);
      for (const key of [...this.rejected.keys()]) if (!listedKeys.has(key)) this.rejected.delete(key);

      const changed = [...wanted].filter(([, object]) => this.lastFetched.get(object.key) !== object.etag);
      await runPool(changed, this.options.concurrency ?? 4, async ([name, object]) => {
        if (signal.aborted) return;
        if (!(await this.fetchOne(name, object, signal, result))) failed = true;
      });
      if (signal.aborted) return this.finish(result, started, "aborted");

      if (wanted.size === 0 && !this.sawObjects && !this.options.trustEmptyListing && this.owned.size > 0) {
        this.logger.log("warn", "empty_listing_not_trusted", {
          bucket: this.options.bucket,
          prefix: this.options.prefix,
          owned_files: this.owned.size,
          note: "no valid object under the prefix and none seen since start: existing files kept",
        });
      } else {
        for (const name of [...this.owned.keys()]) {
          if (wanted.has(name) || signal.aborted) continue;
          try {
            await this.dir.remove(name);
            this.owned.delete(name);
            this.good.delete(name);
            this.targetsCache = undefined;
            result.removed++;
            this.metrics.filesRemoved.inc();
            this.logger.log("info", "file_removed", { file: name, reason: "object gone from the listing" });
          } catch (error) {
            failed = true;
            this.countError("remove_failed", result);
            this.logger.log("error", "remove_failed", { file: name, error });
          }
        }
      }
      if (wanted.size > 0) this.sawObjects = true;
      if (signal.aborted) return this.finish(result, started, "aborted");
      return this.finish(result, started, failed ? "failure" : "success");
    } finally {
      await this.persistState(result);
    }
  }

  /** Fetches, validates and writes one changed object. False when the sync must count as failed. */
  private async fetchOne(name: string, object: ListedObject, signal: AbortSignal, result: SyncResult) {
    const { key } = object;
    if (object.size > this.options.maxObjectBytes) {
      this.rejectOnce(key, object.etag, "too_large", this.tooLarge(object.size), name, result);
      this.lastFetched.set(key, object.etag);
      return true;
    }
    let response: Awaited<ReturnType<ObjectStore["get"]>>;
    try {
      response = await this.store.get(key, {
        ifNoneMatch: this.lastFetched.get(key),
        maxBytes: this.options.maxObjectBytes,
        signal,
      });
    } catch (error) {
      if (signal.aborted) return true;
      this.countError("get_failed", result);
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
        this.rejectOnce(key, object.etag, "too_large", this.tooLarge(response.size), name, result);
        this.lastFetched.set(key, object.etag);
        return true;
    }
    result.fetched++;
    const etag = response.etag ?? object.etag;
    const check = validateFileSd(response.body, this.options.maxObjectBytes);
    if (!check.ok) {
      this.rejectOnce(key, etag, check.kind, check.reason, name, result);
      this.lastFetched.set(key, etag);
      return true;
    }
    const hash = sha256(response.body);
    try {
      const current = await this.dir.read(name);
      if (current !== undefined && sha256(current) === hash) {
        result.unchanged++;
      } else {
        if (signal.aborted) return true;
        if (!this.owned.has(name)) {
          // Claim the name before the file exists, so a crash right after the rename leaves it owned.
          this.owned.set(name, { key, etag: undefined, sha256: "" });
          await this.persistState(result);
          if (current !== undefined) {
            this.logger.log("warn", "file_adopted", {
              file: name,
              key,
              note: "overwriting a file not written by this sidecar",
            });
          }
        }
        await this.dir.writeAtomic(name, response.body);
        result.written++;
        this.metrics.filesWritten.inc();
        this.logger.log("info", "file_written", {
          file: name,
          key,
          etag,
          bytes: response.body.byteLength,
          groups: check.groups.length,
          targets: check.targetCount,
        });
      }
    } catch (error) {
      this.countError("write_failed", result);
      this.logger.log("error", "write_failed", { file: name, key, error, note: "retried next poll" });
      return false;
    }
    this.owned.set(name, { key, etag, sha256: hash });
    this.setGood(name, key, check, response.body.byteLength);
    this.lastFetched.set(key, etag);
    this.rejected.delete(key);
    return true;
  }

  private tooLarge(size: number): string {
    return `object is ${size} bytes, limit ${this.options.maxObjectBytes}`;
  }

  private setGood(name: string, key: string, check: FileSdValidation & { ok: true }, bytes: number): void {
    const groupsJson = JSON.stringify(check.groups).slice(1, -1);
    this.good.set(name, { key, groupsJson, bytes, targets: check.targetCount });
    this.targetsCache = undefined;
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
    if (this.rejected.get(key) === etag) return;
    this.rejected.set(key, etag);
    this.countError(kind, result);
    const kept = fileName !== undefined && this.owned.has(fileName) ? fileName : undefined;
    this.logger.log("warn", kind === "invalid_key" ? "key_rejected" : "object_rejected", {
      key,
      etag,
      kind,
      reason,
      kept_file: kept,
      note: kind === "invalid_key" ? "no file is written for this key" : "last good file (if any) kept",
    });
  }

  private countError(kind: ErrorKind, result: SyncResult): void {
    result.errors++;
    this.metrics.errors.inc({ kind });
  }

  private finish(
    result: SyncResult,
    started: number,
    outcome: "success" | "failure" | "aborted",
  ): SyncResult {
    result.durationMs = performance.now() - started;
    result.ok = outcome === "success";
    result.aborted = outcome === "aborted";
    this.metrics.syncs.inc({ result: outcome });
    this.metrics.syncDuration.observe({ result: outcome }, result.durationMs / 1000);
    if (result.ok) {
      this.synced = true;
      this.lastSuccessMs = Date.now();
      this.metrics.lastSuccess.set(this.lastSuccessMs / 1000);
    }
    this.updateGauges();
    const busy = result.written + result.removed + result.errors + result.fetched > 0;
    this.logger.log(result.ok ? (busy ? "info" : "debug") : "warn", "sync_finished", {
      result: outcome,
      duration_ms: Math.round(result.durationMs * 10) / 10,
      listed: result.listed,
      fetched: result.fetched,
      not_modified: result.notModified,
      written: result.written,
      unchanged: result.unchanged,
      removed: result.removed,
      rejected: result.rejected,
      errors: result.errors,
      objects: this.good.size,
    });
    return result;
  }

  private updateGauges(): void {
    let bytes = 0;
    let targets = 0;
    for (const object of this.good.values()) {
      bytes += object.bytes;
      targets += object.targets;
    }
    this.metrics.objects.set(this.good.size);
    this.metrics.bytes.set(bytes);
    this.metrics.targets.set(targets);
  }

  private async readState(): Promise<StateFile | undefined> {
    try {
      const bytes = await this.dir.read(this.stateFileName);
      if (bytes === undefined) return undefined;
      const state = JSON.parse(Buffer.from(bytes).toString("utf8")) as StateFile;
      if (state.version !== 1 || typeof state.files !== "object" || state.files === null)
        throw new Error("bad shape");
      if (state.bucket !== this.options.bucket || state.prefix !== this.options.prefix)
        throw new Error("other prefix");
      return state;
    } catch (error) {
      this.logger.log("warn", "state_unreadable", {
        file: this.stateFileName,
        error,
        note: "owning no files",
      });
      return undefined;
    }
  }

  /** Writes the state file if ownership changed; serialized, atomic. */
  private async persistState(result: SyncResult): Promise<void> {
    const files: Record<string, OwnedEntry> = {};
    for (const name of [...this.owned.keys()].sort()) {
      const entry = this.owned.get(name);
      if (entry) files[name] = entry;
    }
    const state: StateFile = { version: 1, bucket: this.options.bucket, prefix: this.options.prefix, files };
    const text = `${JSON.stringify(state, null, 1)}\n`;
    const write = this.stateWrite.then(async () => {
      if (text === this.lastStateText) return;
      try {
        await this.dir.writeAtomic(this.stateFileName, Buffer.from(text));
        this.lastStateText = text;
      } catch (error) {
        this.countError("state_failed", result);
        this.logger.log("error", "state_write_failed", { file: this.stateFileName, error });
      }
    });
    this.stateWrite = write;
    await write;
  }

  private lastStateText: string | undefined;
}

/** Runs `worker` over `items` with at most `limit` in flight. */
async function runPool<T>(items: T[], limit: number, worker: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await worker(item);
    }
  });
  await Promise.all(lanes);
}
