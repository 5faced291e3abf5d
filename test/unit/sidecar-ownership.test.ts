import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FsLocalDir } from "../../sidecar/localdir.js";
import { memoryLogger } from "../../sidecar/log.js";
import { SidecarMetrics } from "../../sidecar/metrics.js";
import { type LoadedFile, OwnershipLedger, sha256, syncId } from "../../sidecar/ownership.js";
import { Syncer } from "../../sidecar/sync.js";
import { FakeStore, group, tempDir, writeText } from "../support/sidecar-fakes.js";

const SOURCE = { bucket: "bkt", prefix: "targets/" };
const K = (cluster: string) => `targets/123456789012/us-east-1/${cluster}.json`;
const F = (cluster: string) => `123456789012_us-east-1_${cluster}.json`;

/** A real directory that records every atomic write and can be told to fail the state file's. */
class RecordingDir extends FsLocalDir {
  readonly writes: string[] = [];
  failStateWrites = false;

  override async writeAtomic(name: string, data: Uint8Array): Promise<void> {
    if (this.failStateWrites && name.endsWith(".state")) throw new Error("simulated disk full");
    this.writes.push(name);
    await super.writeAtomic(name, data);
  }
}

async function ledgerIn(dir: string) {
  const logger = memoryLogger();
  const ledger = new OwnershipLedger(
    new FsLocalDir(dir, syncId(SOURCE.bucket, SOURCE.prefix)),
    SOURCE,
    logger,
  );
  const found: LoadedFile[] = [];
  return { ledger, logger, found, load: (names: string[] = []) => ledger.load(names, (f) => found.push(f)) };
}

describe("OwnershipLedger", () => {
  it("persists what it owns and takes it back at start: the ETag only for intact files", async () => {
    const dir = await tempDir();
    await writeText(dir, F("a"), "[]");
    await writeText(dir, F("b"), "[]");
    const first = await ledgerIn(dir);
    first.ledger.record(F("a"), { key: K("a"), etag: '"ea"', sha256: sha256(Buffer.from("[]")) });
    first.ledger.record(F("b"), { key: K("b"), etag: '"eb"', sha256: sha256(Buffer.from("[]")) });
    expect(await first.ledger.persist()).toBe(true);
    expect(JSON.parse(await readFile(join(dir, first.ledger.fileName), "utf8"))).toEqual({
      version: 1,
      ...SOURCE,
      files: {
        [F("a")]: { key: K("a"), etag: '"ea"', sha256: sha256(Buffer.from("[]")) },
        [F("b")]: { key: K("b"), etag: '"eb"', sha256: sha256(Buffer.from("[]")) },
      },
    });

    await writeText(dir, F("b"), "changed by hand");
    const second = await ledgerIn(dir);
    await second.load();
    expect(second.ledger.names()).toEqual([F("a"), F("b")]);
    expect(second.found).toEqual([
      { name: F("a"), key: K("a"), etag: '"ea"', bytes: Buffer.from("[]") },
      { name: F("b"), key: K("b"), etag: undefined, bytes: Buffer.from("changed by hand") },
    ]);
  });

  it("a file gone while it was down is no longer owned", async () => {
    const dir = await tempDir();
    const first = await ledgerIn(dir);
    first.ledger.record(F("gone"), { key: K("gone"), etag: '"e"', sha256: "x" });
    await first.ledger.persist();
    const second = await ledgerIn(dir);
    await second.load();
    expect(second.ledger.size).toBe(0);
    expect(second.found).toEqual([]);
  });

  it.each([
    ["not JSON", "{"],
    ["another version", JSON.stringify({ version: 2, ...SOURCE, files: {} })],
    ["another prefix", JSON.stringify({ version: 1, bucket: "bkt", prefix: "other/", files: {} })],
  ])("a state file that is %s is ignored: owning nothing, logged", async (_, text) => {
    const dir = await tempDir();
    await writeText(dir, F("a"), "[]");
    const { ledger, logger, load } = await ledgerIn(dir);
    await writeText(dir, ledger.fileName, text);
    await load([F("a")]);
    expect(ledger.size).toBe(0);
    expect(logger.records.find((r) => r.event === "state_unreadable")).toMatchObject({
      level: "warn",
      file: ledger.fileName,
    });
    expect(logger.records.find((r) => r.event === "unowned_files_left_alone")).toMatchObject({
      count: 1,
      files: [F("a")],
    });
  });

  it("writes the state file only when ownership changed", async () => {
    const root = await tempDir();
    const dir = new RecordingDir(root, "t");
    const ledger = new OwnershipLedger(dir, SOURCE, memoryLogger());
    ledger.record(F("a"), { key: K("a"), etag: '"e"', sha256: "x" });
    await ledger.persist();
    await ledger.persist();
    ledger.release(F("a"));
    await ledger.persist();
    expect(dir.writes).toEqual([ledger.fileName, ledger.fileName]);
  });
});

describe("Syncer and its ledger", () => {
  function syncerIn(dir: RecordingDir, store: FakeStore) {
    const logger = memoryLogger();
    const metrics = new SidecarMetrics();
    const syncer = new Syncer(store, dir, { ...SOURCE, maxObjectBytes: 1024 * 1024 }, logger, metrics);
    return { syncer, logger, metrics };
  }

  it("claims a name in the state file before the file is written", async () => {
    const root = await tempDir();
    const dir = new RecordingDir(root, syncId(SOURCE.bucket, SOURCE.prefix));
    const store = new FakeStore();
    store.put(K("a"), group("10.0.0.1:80"));
    const { syncer } = syncerIn(dir, store);
    await syncer.init();
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, written: 1 });
    // claim, the file, then the entry with its ETag and hash
    expect(dir.writes).toEqual([syncer.stateFileName, F("a"), syncer.stateFileName]);
  });

  it("a failed state write is logged, counted, and retried by the next poll", async () => {
    const root = await tempDir();
    const dir = new RecordingDir(root, syncId(SOURCE.bucket, SOURCE.prefix));
    const store = new FakeStore();
    store.put(K("a"), group("10.0.0.1:80"));
    const { syncer, logger, metrics } = syncerIn(dir, store);
    await syncer.init();
    dir.failStateWrites = true;
    // the claim and the final write both fail; the file is still written and owned in memory
    expect(await syncer.syncOnce()).toMatchObject({ written: 1, errors: 2 });
    expect(await metrics.errorCount("state_failed")).toBe(2);
    expect(logger.records.filter((r) => r.event === "state_write_failed")).toHaveLength(2);
    expect(logger.records.find((r) => r.event === "state_write_failed")).toMatchObject({
      level: "error",
      error: "simulated disk full",
    });
    expect(syncer.ownedFiles()).toEqual([F("a")]);
    dir.failStateWrites = false;
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, written: 0, errors: 0 });
    const state = JSON.parse(await readFile(join(root, syncer.stateFileName), "utf8"));
    expect(Object.keys(state.files)).toEqual([F("a")]);
  });
});
