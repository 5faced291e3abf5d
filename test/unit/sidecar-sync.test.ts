import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FakeStore, group, jsonFiles, makeSyncer, tempDir, writeText } from "../support/sidecar-fakes.js";

const K = (cluster: string) => `targets/123456789012/us-east-1/${cluster}.json`;
const F = (cluster: string) => `123456789012_us-east-1_${cluster}.json`;

/** A store with one object per cluster (cluster → its one target), and a directory one run has synced. */
async function afterOneRun(targets: Record<string, string>) {
  const store = new FakeStore();
  for (const [cluster, target] of Object.entries(targets)) store.put(K(cluster), group(target));
  const dir = await tempDir();
  const { syncer } = makeSyncer(store, dir);
  await syncer.init();
  await syncer.syncOnce();
  return { store, dir };
}

describe("Syncer (fake S3, real directory)", () => {
  it("writes every valid object, then an unchanged poll fetches nothing", async () => {
    const store = new FakeStore();
    store.put(K("a"), group("10.0.0.1:80", { job: "a" }));
    store.put(K("b"), "[]");
    const dir = await tempDir();
    const { syncer, metrics } = makeSyncer(store, dir);
    await syncer.init();
    const first = await syncer.syncOnce();
    expect(first).toMatchObject({ ok: true, written: 2, fetched: 2 });
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.1:80", { job: "a" }), [F("b")]: "[]" });
    expect((await stat(join(dir, F("a")))).mode & 0o777).toBe(0o644);
    expect(store.lists).toBe(1);
    expect(store.gets).toHaveLength(2);

    const second = await syncer.syncOnce();
    expect(second).toMatchObject({ ok: true, written: 0, fetched: 0 });
    expect(store.lists).toBe(2);
    expect(store.gets).toHaveLength(2);
    expect(await metrics.errorCount("get_failed")).toBe(0);
  });

  it("fetches only the changed object, and removes a deleted one", async () => {
    const store = new FakeStore();
    store.put(K("a"), group("10.0.0.1:80"));
    store.put(K("b"), group("10.0.0.2:80"));
    const dir = await tempDir();
    const { syncer } = makeSyncer(store, dir);
    await syncer.init();
    await syncer.syncOnce();
    store.gets = [];
    store.put(K("b"), group("10.0.0.3:80"));
    store.objects.delete(K("a"));
    const result = await syncer.syncOnce();
    expect(result).toMatchObject({ ok: true, written: 1, removed: 1 });
    expect(store.gets).toEqual([K("b")]);
    expect(await jsonFiles(dir)).toEqual({ [F("b")]: group("10.0.0.3:80") });
  });

  it("keeps every file when the listing fails, and reports the failure", async () => {
    const store = new FakeStore();
    store.put(K("a"), group("10.0.0.1:80"));
    const dir = await tempDir();
    const { syncer, metrics } = makeSyncer(store, dir);
    await syncer.init();
    await syncer.syncOnce();
    store.objects.clear();
    store.failList = true;
    const result = await syncer.syncOnce();
    expect(result.ok).toBe(false);
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.1:80") });
    expect(await metrics.errorCount("list_failed")).toBe(1);
  });

  it("a GET failure fails the sync, keeps the file, and is retried next poll", async () => {
    const store = new FakeStore();
    store.put(K("a"), group("10.0.0.1:80"));
    const dir = await tempDir();
    const { syncer } = makeSyncer(store, dir);
    await syncer.init();
    await syncer.syncOnce();
    store.put(K("a"), group("10.0.0.9:80"));
    store.failGet.add(K("a"));
    expect((await syncer.syncOnce()).ok).toBe(false);
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.1:80") });
    store.failGet.clear();
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, written: 1 });
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.9:80") });
  });

  it.each([
    ["not_json", "{oops"],
    ["bad_shape", JSON.stringify([{ targets: ["no-port"] }])],
    ["not_utf8", Uint8Array.from([0x5b, 0xff, 0x5d])],
    ["too_large", `[${" ".repeat(2000)}]`],
  ])("an invalid object (%s) keeps the last good file, logged and counted once", async (kind, body) => {
    const store = new FakeStore();
    store.put(K("a"), group("10.0.0.1:80"));
    const dir = await tempDir();
    const { syncer, logger, metrics } = makeSyncer(store, dir, { maxObjectBytes: 1000 });
    await syncer.init();
    await syncer.syncOnce();
    store.put(K("a"), body);
    for (let i = 0; i < 3; i++) expect((await syncer.syncOnce()).ok).toBe(true);
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.1:80") });
    expect(await metrics.errorCount(kind as "not_json")).toBe(1);
    const lines = logger.records.filter((r) => r.event === "object_rejected");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ key: K("a"), kind, kept_file: F("a") });
    expect(syncer.targetGroups()).toEqual([{ targets: ["10.0.0.1:80"], labels: {} }]);
    // a fixed object is picked up again
    store.put(K("a"), group("10.0.0.2:80"));
    expect(await syncer.syncOnce()).toMatchObject({ written: 1 });
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.2:80") });
  });

  it("rejects bad keys once per key and ETag, and never writes outside the directory", async () => {
    const store = new FakeStore();
    const root = await tempDir();
    const dir = join(root, "sd");
    const bad = [
      "targets/../../escape.json",
      "targets/../escape.json",
      "targets//abs.json",
      "targets/a/b/c/d.json",
      "targets/123456789012/us-east-1/../../../escape.json",
      "targets/123456789012/us-east-1/x/y.json",
      "targets/123456789012/us-east-1/we ird.json",
    ];
    for (const key of bad) store.put(key, group("10.0.0.1:80"));
    store.put(K("ok"), group("10.0.0.2:80"));
    const { syncer, logger, metrics } = makeSyncer(store, dir);
    await syncer.init();
    await syncer.syncOnce();
    await syncer.syncOnce();
    expect(await readdir(root)).toEqual(["sd"]);
    expect(Object.keys(await jsonFiles(dir))).toEqual([F("ok")]);
    const rejected = logger.records.filter((r) => r.event === "key_rejected").map((r) => r.key);
    expect(rejected.sort()).toEqual([...bad].sort());
    expect(await metrics.errorCount("invalid_key")).toBe(bad.length);
    expect(store.gets).toEqual([K("ok")]);
    // a new ETag for a bad key is logged again
    store.put(bad[0] as string, "[]");
    await syncer.syncOnce();
    expect(logger.records.filter((r) => r.event === "key_rejected")).toHaveLength(bad.length + 1);
  });

  it("never removes a file it does not own", async () => {
    const store = new FakeStore();
    store.put(K("a"), group("10.0.0.1:80"));
    const dir = await tempDir();
    await writeText(dir, F("handmade"), group("10.9.9.9:80"));
    await writeText(dir, "static.json", "[]");
    const { syncer, logger } = makeSyncer(store, dir);
    await syncer.init();
    expect(logger.records.find((r) => r.event === "unowned_files_left_alone")).toMatchObject({ count: 1 });
    await syncer.syncOnce();
    expect(Object.keys(await jsonFiles(dir))).toEqual([F("a"), F("handmade"), "static.json"]);
    expect(syncer.ownedFiles()).toEqual([F("a")]);
  });

  it("two sidecars with different prefixes share a directory without removing each other's files", async () => {
    const store = new FakeStore();
    store.put("one/123456789012/us-east-1/a.json", group("10.0.0.1:80"));
    store.put("two/123456789012/eu-west-1/b.json", group("10.0.0.2:80"));
    const dir = await tempDir();
    const one = makeSyncer(store, dir, { prefix: "one/" }).syncer;
    const two = makeSyncer(store, dir, { prefix: "two/" }).syncer;
    await one.init();
    await two.init();
    await one.syncOnce();
    await two.syncOnce();
    await one.syncOnce();
    expect(Object.keys(await jsonFiles(dir))).toEqual([
      "123456789012_eu-west-1_b.json",
      "123456789012_us-east-1_a.json",
    ]);
    store.objects.delete("two/123456789012/eu-west-1/b.json");
    await one.syncOnce();
    await two.syncOnce();
    expect(Object.keys(await jsonFiles(dir))).toEqual(["123456789012_us-east-1_a.json"]);
  });

  it("after a restart: owns what it wrote, fetches nothing unchanged, removes objects deleted meanwhile", async () => {
    const { store, dir } = await afterOneRun({ a: "10.0.0.1:80", b: "10.0.0.2:80" });
    store.objects.delete(K("b"));
    store.gets = [];
    const second = makeSyncer(store, dir).syncer;
    await second.init();
    expect(second.ownedFiles()).toEqual([F("a"), F("b")]);
    expect(await second.syncOnce()).toMatchObject({ ok: true, removed: 1, fetched: 0 });
    expect(store.gets).toEqual([]);
    expect(Object.keys(await jsonFiles(dir))).toEqual([F("a")]);
  });

  it("a file changed by hand is fetched and restored after a restart", async () => {
    const { store, dir } = await afterOneRun({ a: "10.0.0.1:80" });
    await writeText(dir, F("a"), "garbage");
    const second = makeSyncer(store, dir).syncer;
    await second.init();
    expect(await second.syncOnce()).toMatchObject({ written: 1 });
    expect(await readFile(join(dir, F("a")), "utf8")).toBe(group("10.0.0.1:80"));
  });

  it("does not trust an empty listing at start: existing files are kept", async () => {
    const { store, dir } = await afterOneRun({ a: "10.0.0.1:80" });
    store.objects.clear(); // wrong prefix, bucket being recreated, publisher not run yet...
    const { syncer, logger } = makeSyncer(store, dir);
    await syncer.init();
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, removed: 0 });
    expect(Object.keys(await jsonFiles(dir))).toEqual([F("a")]);
    expect(logger.records.some((r) => r.event === "empty_listing_not_trusted")).toBe(true);
    // ...but once objects were seen in this run, the listing is trusted again, down to empty
    store.put(K("b"), "[]");
    expect(await syncer.syncOnce()).toMatchObject({ written: 1, removed: 1 });
    expect(Object.keys(await jsonFiles(dir))).toEqual([F("b")]);
    store.objects.clear();
    expect(await syncer.syncOnce()).toMatchObject({ removed: 1 });
    expect(await jsonFiles(dir)).toEqual({});
  });

  it("trustEmptyListing lets an empty listing at start remove owned files", async () => {
    const { store, dir } = await afterOneRun({ a: "10.0.0.1:80" });
    store.objects.clear();
    const { syncer } = makeSyncer(store, dir, { trustEmptyListing: true });
    await syncer.init();
    expect(await syncer.syncOnce()).toMatchObject({ removed: 1 });
  });

  it("does not rewrite a file whose content is already right (adopting it)", async () => {
    const store = new FakeStore();
    store.put(K("a"), group("10.0.0.1:80"));
    const dir = await tempDir();
    await writeText(dir, F("a"), group("10.0.0.1:80"));
    const before = (await stat(join(dir, F("a")))).ino;
    const { syncer } = makeSyncer(store, dir);
    await syncer.init();
    expect(await syncer.syncOnce()).toMatchObject({ written: 0, unchanged: 1 });
    expect((await stat(join(dir, F("a")))).ino).toBe(before);
    expect(syncer.ownedFiles()).toEqual([F("a")]);
  });

  it("removes its own stale temp files at start, and no one else's", async () => {
    const store = new FakeStore();
    const dir = await tempDir();
    const { syncer } = makeSyncer(store, dir);
    await writeFile(join(dir, `.sidecar-${syncer.id}-deadbeef.tmp`), "[");
    await writeFile(join(dir, ".sidecar-000000000000-deadbeef.tmp"), "[");
    await syncer.init();
    expect((await readdir(dir)).filter((n) => n.endsWith(".tmp"))).toEqual([
      ".sidecar-000000000000-deadbeef.tmp",
    ]);
  });

  it("an abort mid-poll stops fetching, removes nothing and leaves no temp file", async () => {
    const store = new FakeStore();
    for (let i = 0; i < 20; i++) store.put(K(`c${i}`), group(`10.0.0.${i + 1}:80`));
    const dir = await tempDir();
    const { syncer } = makeSyncer(store, dir);
    await syncer.init();
    await syncer.syncOnce();
    for (let i = 0; i < 20; i++) store.put(K(`c${i}`), group(`10.0.1.${i + 1}:80`));
    store.objects.delete(K("c0"));
    const controller = new AbortController();
    store.gets = [];
    store.onGet = () => {
      if (store.gets.length === 5) controller.abort();
    };
    const result = await syncer.syncOnce(controller.signal);
    expect(result).toMatchObject({ ok: false, aborted: true, removed: 0 });
    expect(store.gets.length).toBeLessThan(19);
    const names = await readdir(dir);
    expect(names.filter((n) => n.endsWith(".tmp"))).toEqual([]);
    expect(names).toContain(F("c0"));
    for (const [, text] of Object.entries(await jsonFiles(dir))) expect(() => JSON.parse(text)).not.toThrow();
  });

  it("merges the good groups for /targets in file name order", async () => {
    const store = new FakeStore();
    store.put(K("b"), JSON.stringify([{ targets: ["10.0.0.2:80"], labels: { job: "b" } }]));
    store.put(K("a"), JSON.stringify([{ targets: ["10.0.0.1:80"] }, { targets: ["10.0.0.3:80"] }]));
    store.put(K("c"), "not json");
    const dir = await tempDir();
    const { syncer, metrics } = makeSyncer(store, dir);
    await syncer.init();
    expect(syncer.hasSynced).toBe(false);
    await syncer.syncOnce();
    expect(syncer.hasSynced).toBe(true);
    expect(JSON.parse(syncer.targetsJson())).toEqual([
      { targets: ["10.0.0.1:80"] },
      { targets: ["10.0.0.3:80"] },
      { targets: ["10.0.0.2:80"], labels: { job: "b" } },
    ]);
    expect((await metrics.targets.get()).values[0]?.value).toBe(3);
    expect((await metrics.objects.get()).values[0]?.value).toBe(2);
  });

  it("streams /targets byte for byte as the merged groups, with its length known up front", async () => {
    const store = new FakeStore();
    store.put(K("b"), JSON.stringify([{ labels: { job: "b" }, targets: ["10.0.0.2:80"] }], null, 2));
    store.put(K("a"), "[]");
    store.put(K("c"), JSON.stringify([{ targets: ["10.0.0.1:80"] }, { targets: ["10.0.0.3:80"] }]));
    const dir = await tempDir();
    const { syncer } = makeSyncer(store, dir);
    await syncer.init();
    await syncer.syncOnce();
    const expected =
      '[{"targets":["10.0.0.2:80"],"labels":{"job":"b"}},{"targets":["10.0.0.1:80"]},{"targets":["10.0.0.3:80"]}]';
    expect(syncer.targetsJson()).toBe(expected);
    const body = syncer.targetsBody();
    const chunks: Buffer[] = [];
    for await (const chunk of body.stream()) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString("utf8")).toBe(expected);
    expect(body.byteLength).toBe(Buffer.byteLength(expected));
  });

  it("creates a missing output directory", async () => {
    const store = new FakeStore();
    store.put(K("a"), "[]");
    const dir = join(await tempDir(), "x", "y");
    const { syncer } = makeSyncer(store, dir);
    await syncer.init();
    await syncer.syncOnce();
    expect(Object.keys(await jsonFiles(dir))).toEqual([F("a")]);
    await mkdir(dir, { recursive: true });
  });
});
