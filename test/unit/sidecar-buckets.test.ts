/**
 * Several buckets read into one directory (fake S3, real directory): the merge rules as a table, then the
 * Syncer: both buckets' objects in one directory and one /targets, a key two buckets hold (the first
 * wins, the other is skipped and counted, nothing alternates), a bucket whose listing fails (its files
 * kept, the others synced, the sync failed), and ownership per bucket across restarts.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { FsLocalDir } from "../../sidecar/localdir.js";
import { memoryLogger } from "../../sidecar/log.js";
import { mergeListings } from "../../sidecar/merge.js";
import { SidecarMetrics } from "../../sidecar/metrics.js";
import { RegionalClients, redirectRegion } from "../../sidecar/s3-clients.js";
import type { ListedObject } from "../../sidecar/store.js";
import { Syncer, type SyncOptions, syncId } from "../../sidecar/sync.js";
import { FakeStore, group, jsonFiles, makeSyncer, tempDir } from "../support/sidecar-fakes.js";

const K = (cluster: string, region = "us-east-1") => `targets/123456789012/${region}/${cluster}.json`;
const F = (cluster: string, region = "us-east-1") => `123456789012_${region}_${cluster}.json`;
const obj = (key: string, etag = '"e"'): ListedObject => ({ key, etag, size: 2 });

describe("mergeListings", () => {
  it("maps every bucket's keys to one set of files; on a key two buckets hold, the first given wins", () => {
    const merged = mergeListings(
      [
        [obj(K("a")), obj(K("shared"))],
        [obj(K("b", "eu-west-1")), obj(K("shared"), '"other"'), obj("x.json")],
      ],
      "targets/",
      new Map(),
    );
    expect([...merged.wanted].map(([name, c]) => [name, c.source, c.object.etag])).toEqual([
      [F("a"), 0, '"e"'],
      [F("shared"), 0, '"e"'],
      [F("b", "eu-west-1"), 1, '"e"'],
    ]);
    expect(merged.duplicates).toEqual([
      { source: 1, object: obj(K("shared"), '"other"'), name: F("shared"), keptBy: 0, held: false },
    ]);
    expect(merged.invalid).toMatchObject([{ source: 1, object: { key: "x.json" } }]);
    expect(merged.names).toEqual([
      new Set([F("a"), F("shared")]),
      new Set([F("b", "eu-west-1"), F("shared")]),
    ]);
  });

  it("a bucket whose listing failed keeps its claims against later buckets, not against earlier ones", () => {
    const held = new Map([
      [F("x"), 1],
      [F("y"), 1],
    ]);
    const merged = mergeListings(
      [[obj(K("x"))], undefined, [obj(K("x")), obj(K("y")), obj(K("z"))]],
      "targets/",
      held,
    );
    expect([...merged.wanted].map(([name, c]) => [name, c.source])).toEqual([
      [F("x"), 0],
      [F("z"), 2],
    ]);
    expect(merged.duplicates.map((d) => [d.name, d.source, d.keptBy, d.held])).toEqual([
      [F("x"), 2, 0, false],
      [F("y"), 2, 1, true],
    ]);
    expect(merged.names[1]).toBeUndefined();
  });

  it("the same key twice in one listing is one file, not a duplicate", () => {
    const merged = mergeListings([[obj(K("a")), obj(K("a"))]], "targets/", new Map());
    expect(merged.wanted.size).toBe(1);
    expect(merged.duplicates).toEqual([]);
  });
});

/** A Syncer over buckets "first" and "second" (in that order) into `dir`. */
function twoBuckets(dir: string, options: Partial<SyncOptions> = {}) {
  const first = new FakeStore();
  const second = new FakeStore();
  const logger = memoryLogger();
  const metrics = new SidecarMetrics();
  const syncer = new Syncer(
    [
      { bucket: "first", store: first },
      { bucket: "second", store: second },
    ],
    new FsLocalDir(dir, syncId("first,second", "targets/")),
    { prefix: "targets/", maxObjectBytes: 1024 * 1024, ...options },
    logger,
    metrics,
  );
  return { first, second, syncer, logger, metrics };
}

async function rejected(metrics: SidecarMetrics, kind: string): Promise<number | undefined> {
  return (await metrics.rejectedObjects.get()).values.find((v) => v.labels.kind === kind)?.value;
}

describe("Syncer with several buckets", () => {
  it("merges every bucket's objects into one directory and one /targets; one LIST per bucket", async () => {
    const dir = await tempDir();
    const { first, second, syncer } = twoBuckets(dir);
    first.put(K("a"), group("10.0.0.1:80"));
    second.put(K("b", "eu-west-1"), group("10.1.0.1:80"));
    await syncer.init();
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, written: 2, listed: 2, bucketsFailed: 0 });
    expect(await jsonFiles(dir)).toEqual({
      [F("b", "eu-west-1")]: group("10.1.0.1:80"),
      [F("a")]: group("10.0.0.1:80"),
    });
    expect(syncer.targetGroups().map((g) => g.targets[0])).toEqual(["10.1.0.1:80", "10.0.0.1:80"]);
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, fetched: 0 });
    expect([first.lists, second.lists]).toEqual([2, 2]);
    expect(syncer.stateFileNames).toEqual([
      `.sidecar-${syncId("first", "targets/")}.state`,
      `.sidecar-${syncId("second", "targets/")}.state`,
    ]);
    const state = JSON.parse(await readFile(join(dir, syncer.stateFileNames[1] as string), "utf8"));
    expect(state).toMatchObject({
      bucket: "second",
      files: { [F("b", "eu-west-1")]: { key: K("b", "eu-west-1") } },
    });
  });

  it("a key two buckets hold: the first bucket's object, the other skipped, logged and counted once, never alternating", async () => {
    const dir = await tempDir();
    const { first, second, syncer, logger, metrics } = twoBuckets(dir);
    first.put(K("a"), group("10.0.0.1:80"));
    second.put(K("a"), group("10.9.9.9:80"));
    await syncer.init();
    for (let i = 0; i < 4; i++) {
      expect(await syncer.syncOnce()).toMatchObject({ ok: true, rejected: 1 });
      expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.1:80") });
    }
    expect(second.gets).toEqual([]);
    expect(await metrics.errorCount("duplicate_key")).toBe(1);
    expect(await rejected(metrics, "duplicate_key")).toBe(1);
    const lines = logger.records.filter((r) => r.event === "duplicate_key");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "warn", bucket: "second", key: K("a"), kind: "duplicate_key" });
    expect(String(lines[0]?.reason)).toMatch(/bucket "first", given earlier, holds the same key/);

    // the first bucket's object goes: the second's takes the file over, without a gap
    first.objects.delete(K("a"));
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, written: 1, removed: 0 });
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.9.9.9:80") });
    expect(logger.records.find((r) => r.event === "file_taken_over")).toMatchObject({
      file: F("a"),
      bucket: "second",
      from_bucket: "first",
    });
    expect(await rejected(metrics, "duplicate_key")).toBe(0);
    const states = await Promise.all(
      syncer.stateFileNames.map(async (n) => JSON.parse(await readFile(join(dir, n), "utf8")).files),
    );
    expect(states.map((files) => Object.keys(files))).toEqual([[], [F("a")]]);

    // and back when it returns: the order given decides, not who came first
    first.put(K("a"), group("10.0.0.2:80"));
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, written: 1 });
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.2:80") });
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, fetched: 0, written: 0 });
  });

  it("a bucket whose listing fails keeps its files; the other bucket's changes still arrive; the sync fails", async () => {
    const dir = await tempDir();
    const { first, second, syncer, logger, metrics } = twoBuckets(dir);
    first.put(K("a"), group("10.0.0.1:80"));
    second.put(K("b", "eu-west-1"), group("10.1.0.1:80"));
    second.put(K("c", "eu-west-1"), group("10.1.0.2:80"));
    await syncer.init();
    await syncer.syncOnce();

    second.failList = true;
    second.objects.clear();
    first.put(K("a"), group("10.0.0.2:80"));
    first.put(K("d"), group("10.0.0.3:80"));
    const result = await syncer.syncOnce();
    expect(result).toMatchObject({ ok: false, written: 2, removed: 0, bucketsFailed: 1 });
    expect(Object.keys(await jsonFiles(dir)).sort()).toEqual(
      [F("b", "eu-west-1"), F("c", "eu-west-1"), F("a"), F("d")].sort(),
    );
    expect((await jsonFiles(dir))[F("a")]).toBe(group("10.0.0.2:80"));
    expect(syncer.targetGroups()).toHaveLength(4);
    expect(await metrics.errorCount("list_failed")).toBe(1);
    expect(logger.records.find((r) => r.event === "list_failed")).toMatchObject({ bucket: "second" });
    expect(syncer.history.lastAttempt).toMatchObject({ outcome: "failure", bucketsFailed: 1 });
    expect(syncer.lastSuccess).toBeDefined();

    // back, with one object gone: now it is removed, and the sync succeeds
    second.failList = false;
    second.put(K("b", "eu-west-1"), group("10.1.0.1:80"));
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, removed: 1, bucketsFailed: 0 });
    expect(Object.keys(await jsonFiles(dir))).not.toContain(F("c", "eu-west-1"));
  });

  it("while the first bucket's listing fails, the second never takes over a file the first holds", async () => {
    const dir = await tempDir();
    const { first, second, syncer, metrics } = twoBuckets(dir);
    first.put(K("a"), group("10.0.0.1:80"));
    second.put(K("a"), group("10.9.9.9:80"));
    await syncer.init();
    await syncer.syncOnce();
    first.failList = true;
    for (let i = 0; i < 3; i++) expect(await syncer.syncOnce()).toMatchObject({ ok: false, written: 0 });
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.1:80") });
    expect(second.gets).toEqual([]);
    expect(await rejected(metrics, "duplicate_key")).toBe(1);
    first.failList = false;
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, written: 0, fetched: 0 });
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.1:80") });
  });

  it("a file another bucket last listed is not removed while that bucket's listing fails", async () => {
    const dir = await tempDir();
    const { first, second, syncer } = twoBuckets(dir);
    first.put(K("a"), group("10.0.0.1:80"));
    second.put(K("a"), group("10.9.9.9:80"));
    await syncer.init();
    await syncer.syncOnce();
    second.failList = true;
    first.objects.delete(K("a")); // the winner's object goes while the other bucket cannot be listed
    expect(await syncer.syncOnce()).toMatchObject({ ok: false, removed: 0 });
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.1:80") });
    second.failList = false;
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, written: 1, removed: 0 });
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.9.9.9:80") });
  });

  it("the empty-listing guard is per bucket", async () => {
    const dir = await tempDir();
    const before = twoBuckets(dir);
    before.first.put(K("a"), "[]");
    before.second.put(K("b"), "[]");
    await before.syncer.init();
    await before.syncer.syncOnce();

    const { first, second, syncer, logger } = twoBuckets(dir);
    first.put(K("a"), "[]");
    await syncer.init();
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, removed: 0 });
    expect(Object.keys(await jsonFiles(dir))).toEqual([F("a"), F("b")]);
    expect(logger.records.find((r) => r.event === "empty_listing_not_trusted")).toMatchObject({
      bucket: "second",
    });
    second.put(K("c"), "[]");
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, written: 1, removed: 1 });
    expect(Object.keys(await jsonFiles(dir))).toEqual([F("a"), F("c")]);
  });

  it("/targets waits until every bucket's targets are known: synced once in this run, or restored from the directory", async () => {
    const dir = await tempDir();
    const { first, second, syncer } = twoBuckets(dir);
    first.put(K("a"), group("10.0.0.1:80"));
    second.put(K("b"), group("10.0.0.2:80"));
    second.failList = true;
    await syncer.init();
    expect(syncer.targetsReady).toBe(false);
    await syncer.syncOnce();
    expect(syncer.targetsReady).toBe(false); // the second bucket was never seen: no answer rather than none of it
    second.failList = false;
    first.failList = true;
    expect(await syncer.syncOnce()).toMatchObject({ ok: false });
    expect([syncer.hasSynced, syncer.targetsReady]).toEqual([false, true]);

    // a restart while the second bucket is unreachable: its files and state file are there, so the
    // first bucket's targets are served with the second's last ones
    const again = twoBuckets(dir);
    again.first.put(K("a"), group("10.0.0.3:80"));
    again.second.failList = true;
    await again.syncer.init();
    expect(again.syncer.targetsReady).toBe(false);
    await again.syncer.syncOnce();
    expect(again.syncer.targetsReady).toBe(true);
    expect(again.syncer.targetGroups().map((g) => g.targets[0])).toEqual(["10.0.0.3:80", "10.0.0.2:80"]);
  });

  it("with one bucket, /targets still waits for a successful sync, state file or not", async () => {
    const dir = await tempDir();
    const store = new FakeStore();
    store.put(K("a"), group("10.0.0.1:80"));
    const one = makeSyncer(store, dir).syncer;
    await one.init();
    await one.syncOnce();
    store.failList = true;
    const again = makeSyncer(store, dir).syncer;
    await again.init();
    await again.syncOnce();
    expect(again.targetsReady).toBe(false);
  });

  it("a one-bucket sidecar's files stay owned when a second bucket is added", async () => {
    const dir = await tempDir();
    const single = new FakeStore();
    single.put(K("a"), group("10.0.0.1:80"));
    const one = makeSyncer(single, dir, { bucket: "first" }).syncer;
    await one.init();
    await one.syncOnce();

    const { first, second, syncer } = twoBuckets(dir);
    first.put(K("a"), group("10.0.0.1:80"));
    second.put(K("b"), group("10.0.0.2:80"));
    await syncer.init();
    expect(syncer.ownedFiles()).toEqual([F("a")]);
    expect(syncer.stateFileName).toBe(one.stateFileName);
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, fetched: 1, written: 1 });
    first.objects.delete(K("a"));
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, removed: 1 });
    expect(Object.keys(await jsonFiles(dir))).toEqual([F("b")]);
  });

  it("a file in two state files (a takeover cut short) stays with the first bucket at start", async () => {
    const dir = await tempDir();
    const before = twoBuckets(dir);
    before.first.put(K("a"), group("10.0.0.1:80"));
    await before.syncer.init();
    await before.syncer.syncOnce();
    // the second bucket's state file claims the same file too
    const firstState = JSON.parse(await readFile(join(dir, before.syncer.stateFileName), "utf8"));
    await writeFile(
      join(dir, before.syncer.stateFileNames[1] as string),
      JSON.stringify({ ...firstState, bucket: "second" }),
    );
    const { first, syncer, logger } = twoBuckets(dir);
    first.put(K("a"), group("10.0.0.1:80"));
    await syncer.init();
    expect(logger.records.find((r) => r.event === "file_owned_twice")).toMatchObject({ files: [F("a")] });
    expect(syncer.ownedFiles()).toEqual([F("a")]);
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, fetched: 0, removed: 0 });
    const second = JSON.parse(await readFile(join(dir, syncer.stateFileNames[1] as string), "utf8"));
    expect(second.files).toEqual({});
  });
});

describe("a client per region", () => {
  const redirect = (status: number, headers: Record<string, unknown>) =>
    Object.assign(new Error("x"), { $metadata: { httpStatusCode: status }, $response: { headers } });

  it.each([
    [redirect(301, { "x-amz-bucket-region": "eu-west-1" }), "eu-west-1"],
    [redirect(400, { "x-amz-bucket-region": "ap-east-1" }), "ap-east-1"],
    [redirect(403, { "x-amz-bucket-region": "eu-west-1" }), undefined],
    [redirect(301, {}), undefined],
    [redirect(301, { "x-amz-bucket-region": "eu-west-1/../x" }), undefined],
    [new Error("ECONNREFUSED"), undefined],
  ])("the region S3 names in a redirect: %#", (error, region) => {
    expect(redirectRegion(error)).toBe(region);
  });

  it("makes one client per region, on first use, the configured region for a bucket that has one", () => {
    const made: Array<string | undefined> = [];
    const clients = new RegionalClients((region) => {
      made.push(region);
      return new S3Client({ region: region ?? "us-east-1" });
    }, memoryLogger());
    const a = clients.clientFor("sd-a");
    expect(clients.clientFor("sd-b")).toBe(a);
    const west = clients.clientFor("sd-c", "eu-west-1");
    expect(west).not.toBe(a);
    expect(clients.clientFor("sd-d", "eu-west-1")).toBe(west);
    expect(made).toEqual([undefined, "eu-west-1"]);
    expect(clients.regions()).toEqual(["", "eu-west-1"]);
    clients.destroy();
  });
});
