/**
 * The ownership ledgers of several buckets over one directory (ownership.ts holds one bucket's): which
 * bucket's object each owned file is. A file name is owned by at most one bucket. When another bucket's
 * object takes a file over (the owner's object is gone, or an earlier bucket now holds the same key), the
 * name moves from one ledger to the other. With one bucket this is its one ledger, and its state file is
 * the one a single-bucket sidecar always wrote, so a sidecar that reads more buckets later, or that takes
 * over the buckets of several one-bucket sidecars sharing the directory, still owns what they wrote.
 */
import type { LocalDir } from "./localdir.js";
import type { Logger } from "./log.js";
import { type LoadedFile, type OwnedEntry, OwnershipLedger, reportUnowned } from "./ownership.js";

export class Owners {
  /** One per bucket, in the order the buckets are given. */
  readonly ledgers: OwnershipLedger[];

  constructor(
    private readonly dir: LocalDir,
    buckets: readonly string[],
    prefix: string,
    private readonly logger: Logger,
  ) {
    this.ledgers = buckets.map((bucket) => new OwnershipLedger(dir, { bucket, prefix }, logger));
  }

  /** The state files, one per bucket. */
  get fileNames(): string[] {
    return this.ledgers.map((ledger) => ledger.fileName);
  }

  /** Owned files, all buckets. */
  get size(): number {
    return this.ledgers.reduce((sum, ledger) => sum + ledger.size, 0);
  }

  /** The index of the bucket that owns `name`, if one does. */
  ownerOf(name: string): number | undefined {
    const index = this.ledgers.findIndex((ledger) => ledger.has(name));
    return index < 0 ? undefined : index;
  }

  has(name: string): boolean {
    return this.ownerOf(name) !== undefined;
  }

  /** Every owned name, sorted. */
  names(): string[] {
    return [...new Set(this.ledgers.flatMap((ledger) => ledger.names()))].sort();
  }

  /**
   * Loads every bucket's state file; `found` sees each owned file with its bucket's index. A name in two
   * state files (a crash in the middle of a takeover, or buckets given in another order than before)
   * stays with the first bucket, and the next poll settles it.
   */
  async load(names: readonly string[], found: (index: number, file: LoadedFile) => void): Promise<void> {
    for (const [index, ledger] of this.ledgers.entries()) {
      const twice: string[] = [];
      await ledger.load(undefined, (file) => {
        const earlier = this.ledgers.slice(0, index).some((other) => other.has(file.name));
        if (earlier) twice.push(file.name);
        else found(index, file);
      });
      for (const name of twice) ledger.release(name);
      if (twice.length > 0) {
        this.logger.log("warn", "file_owned_twice", {
          files: twice.slice(0, 20),
          count: twice.length,
          state_file: ledger.fileName,
          note: "kept by the bucket given first",
        });
      }
    }
    reportUnowned(this.logger, this.dir.path, names, (name) => this.has(name));
  }

  /**
   * Records `name` as bucket `index`'s before its file is written (a takeover from another bucket
   * included), so that a crash right after the rename leaves it owned. False when a state file could not
   * be written.
   */
  async claim(index: number, name: string, key: string): Promise<boolean> {
    const previous = this.releaseFromOthers(index, name);
    const [claimed, released] = await Promise.all([
      this.ledger(index).claim(name, key),
      previous === undefined ? true : this.ledger(previous).persist(),
    ]);
    return claimed && released;
  }

  /** What bucket `index` wrote (or found already right) under `name`; persisted with the next `persist`. */
  record(index: number, name: string, entry: OwnedEntry): void {
    this.releaseFromOthers(index, name);
    this.ledger(index).record(name, entry);
  }

  /** After the file was removed. */
  release(name: string): void {
    for (const ledger of this.ledgers) ledger.release(name);
  }

  /** Writes the state files that changed. False when one failed (logged by its ledger). */
  async persist(): Promise<boolean> {
    const results = await Promise.all(this.ledgers.map((ledger) => ledger.persist()));
    return results.every(Boolean);
  }

  ledger(index: number): OwnershipLedger {
    const ledger = this.ledgers[index];
    if (!ledger) throw new Error(`no bucket #${index}`);
    return ledger;
  }

  /** Takes `name` from whichever other bucket owned it; that bucket's index, if there was one. */
  private releaseFromOthers(index: number, name: string): number | undefined {
    const previous = this.ownerOf(name);
    if (previous === undefined || previous === index) return undefined;
    this.ledger(previous).release(name);
    return previous;
  }
}
