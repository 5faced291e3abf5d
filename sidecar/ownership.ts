/**
 * The ownership ledger: which local files this sidecar wrote from one bucket, kept in a state file
 * `.sidecar-<id>.state` in the directory. The id is a hash of bucket and prefix, so two sidecars syncing
 * different prefixes into one directory never remove each other's files, and a sidecar reading several
 * buckets keeps one ledger per bucket (owners.ts): the files a bucket's objects became stay that
 * bucket's whatever other buckets are read beside it. Each entry holds the file's S3 key, ETag and SHA-256. A file
 * that matches the naming pattern but is not in the ledger (written by hand, by the engine's CLI, by
 * another sidecar) is never removed; it is overwritten only when an object with that name appears.
 */
import { createHash } from "node:crypto";
import { isOwnedFileName } from "../lambda/shared/file-sd.js";
import type { LocalDir } from "./localdir.js";
import type { Logger } from "./log.js";

export interface OwnedEntry {
  key: string;
  etag: string | undefined;
  sha256: string;
}

/** An owned file as found at start: its ETag only when the bytes still hash to what was written. */
export interface LoadedFile {
  name: string;
  key: string;
  etag: string | undefined;
  bytes: Uint8Array;
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

/** Logs the files of the flat shape that no ledger owns: they are never removed. */
export function reportUnowned(
  logger: Logger,
  dir: string,
  names: readonly string[],
  owned: (name: string) => boolean,
): void {
  const unowned = names.filter((n) => isOwnedFileName(n) && !owned(n));
  if (unowned.length === 0) return;
  logger.log("info", "unowned_files_left_alone", {
    dir,
    count: unowned.length,
    files: unowned.slice(0, 20),
    note: "files not written by this sidecar are never removed; one is overwritten only if its object appears",
  });
}

export class OwnershipLedger {
  readonly fileName: string;
  private readonly owned = new Map<string, OwnedEntry>();
  private stateWrite: Promise<void> = Promise.resolve();
  /** The state file was read at start: what this bucket's objects became is known from the directory. */
  restored = false;
  private lastStateText: string | undefined;

  constructor(
    private readonly dir: LocalDir,
    readonly source: { bucket: string; prefix: string },
    private readonly logger: Logger,
  ) {
    this.fileName = `.sidecar-${syncId(source.bucket, source.prefix)}.state`;
  }

  get size(): number {
    return this.owned.size;
  }

  has(name: string): boolean {
    return this.owned.has(name);
  }

  /** Owned file names, sorted. */
  names(): string[] {
    return [...this.owned.keys()].sort();
  }

  /**
   * Reads the state file and takes back the files it lists that still exist; `found` sees each one.
   * A file changed since it was written stays owned but loses its ETag, so it is fetched and restored.
   * `names` is the directory listing, for the report of the files left alone (none without it).
   */
  async load(names: readonly string[] | undefined, found: (file: LoadedFile) => void): Promise<void> {
    const state = await this.readState();
    this.restored = state !== undefined;
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
      const etag = hash === entry.sha256 ? entry.etag : undefined;
      this.owned.set(name, { key: entry.key, etag, sha256: hash });
      found({ name, key: entry.key, etag, bytes });
    }
    if (names) reportUnowned(this.logger, this.dir.path, names, (name) => this.owned.has(name));
  }

  /**
   * Records `name` as ours before the file exists, so a crash right after the rename leaves it owned.
   * False when the state file could not be written.
   */
  claim(name: string, key: string): Promise<boolean> {
    this.owned.set(name, { key, etag: undefined, sha256: "" });
    return this.persist();
  }

  /** What was written (or found already right) under `name`; persisted with the next `persist`. */
  record(name: string, entry: OwnedEntry): void {
    this.owned.set(name, entry);
  }

  /** After the file was removed. */
  release(name: string): void {
    this.owned.delete(name);
  }

  /**
   * Writes the state file if ownership changed since the last write; serialized, atomic. False when the
   * write failed (logged here; the caller counts it).
   */
  async persist(): Promise<boolean> {
    const files: Record<string, OwnedEntry> = {};
    for (const name of this.names()) {
      const entry = this.owned.get(name);
      if (entry) files[name] = entry;
    }
    const { bucket, prefix } = this.source;
    const state: StateFile = { version: 1, bucket, prefix, files };
    const text = `${JSON.stringify(state, null, 1)}\n`;
    let ok = true;
    const write = this.stateWrite.then(async () => {
      if (text === this.lastStateText) return;
      try {
        await this.dir.writeAtomic(this.fileName, Buffer.from(text));
        this.lastStateText = text;
      } catch (error) {
        ok = false;
        this.logger.log("error", "state_write_failed", { file: this.fileName, error });
      }
    });
    this.stateWrite = write;
    await write;
    return ok;
  }

  private async readState(): Promise<StateFile | undefined> {
    try {
      const bytes = await this.dir.read(this.fileName);
      if (bytes === undefined) return undefined;
      const state = JSON.parse(Buffer.from(bytes).toString("utf8")) as StateFile;
      if (state.version !== 1 || typeof state.files !== "object" || state.files === null)
        throw new Error("bad shape");
      if (state.bucket !== this.source.bucket || state.prefix !== this.source.prefix)
        throw new Error("other prefix");
      return state;
    } catch (error) {
      this.logger.log("warn", "state_unreadable", { file: this.fileName, error, note: "owning no files" });
      return undefined;
    }
  }
}
