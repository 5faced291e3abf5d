/** The sync against S3 over HTTP (startS3: the stand-in, or moto): request counts, changes, deletions, failures, bad keys; HTTP. */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SidecarHealth } from "../../sidecar/health.js";
import { type RunningHttpServer, startHttpServer } from "../../sidecar/http.js";
import { FsLocalDir } from "../../sidecar/localdir.js";
import { memoryLogger } from "../../sidecar/log.js";
import { SidecarMetrics } from "../../sidecar/metrics.js";
import { S3ObjectStore } from "../../sidecar/store.js";
import { Syncer, syncId } from "../../sidecar/sync.js";
import { type S3Server, s3Kind, startS3 } from "../support/s3.js";
import { group, jsonFiles, tempDir } from "../support/sidecar-fakes.js";

const BUCKET = "sd-bucket";
const K = (cluster: string) => `targets/123456789012/us-east-1/${cluster}.json`;
const F = (cluster: string) => `123456789012_us-east-1_${cluster}.json`;

let server: S3Server;
/** Real HTTP requests by operation, counted by SDK middleware on the sidecar's client. */
let sent: Record<string, number>;
let client: S3Client;
let admin: S3Client;

function s3(url: string): S3Client {
  return new S3Client({
    endpoint: url,
    forcePathStyle: true,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
  });
}

async function put(key: string, body: string | Uint8Array) {
  await admin.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: "application/json" }),
  );
}

function setup(options: { maxObjectBytes?: number } = {}) {
  return (async () => {
    const dir = await tempDir();
    const logger = memoryLogger();
    const metrics = new SidecarMetrics();
    const store = new S3ObjectStore(client, BUCKET, metrics.observeRequest);
    const opts = {
      bucket: BUCKET,
      prefix: "targets/",
      maxObjectBytes: options.maxObjectBytes ?? 1024 * 1024,
    };
    const syncer = new Syncer(store, new FsLocalDir(dir, syncId(BUCKET, "targets/")), opts, logger, metrics);
    await syncer.init();
    return { dir, logger, metrics, syncer };
  })();
}

beforeAll(async () => {
  server = await startS3();
  admin = s3(server.url);
  client = s3(server.url);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent[context.commandName ?? "?"] = (sent[context.commandName ?? "?"] ?? 0) + 1;
      return next(args);
    },
    { step: "finalizeRequest", name: "countRequests" },
  );
});

afterAll(async () => {
  client?.destroy();
  admin?.destroy();
  await server?.stop();
});

beforeEach(async () => {
  await server.reset();
  await admin.send(new CreateBucketCommand({ Bucket: BUCKET }));
  sent = {};
});

describe(`sync against S3 (${s3Kind()})`, () => {
  it("first sync writes the files; an unchanged poll is exactly 1 LIST and 0 GET", async () => {
    await put(K("a"), group("10.0.0.1:9100", { job: "a" }));
    await put(K("b"), "[]");
    await put("state/123456789012/us-east-1/a.json", "{}");
    const { dir, syncer, metrics } = await setup();
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, written: 2 });
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.1:9100", { job: "a" }), [F("b")]: "[]" });
    expect(sent).toEqual({ ListObjectsV2Command: 1, GetObjectCommand: 2 });

    sent = {};
    for (let i = 0; i < 3; i++) {
      expect(await syncer.syncOnce()).toMatchObject({ ok: true, fetched: 0, written: 0 });
    }
    expect(sent).toEqual({ ListObjectsV2Command: 3 });
    expect(await metrics.requestCount("ListObjectsV2")).toBe(4);
    expect(await metrics.requestCount("GetObject")).toBe(2);
  });

  it("lists every page", async () => {
    for (let i = 0; i < 1005; i += 15) {
      const batch = Array.from({ length: Math.min(15, 1005 - i) }, (_, j) => i + j);
      await Promise.all(batch.map((n) => put(`targets/123456789012/us-east-1/c${n}.json`, "[]")));
    }
    const { dir, syncer } = await setup();
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, listed: 1005, written: 1005 });
    expect(sent.ListObjectsV2Command).toBe(2);
    expect(Object.keys(await jsonFiles(dir))).toHaveLength(1005);
  }, 120_000);

  it("a changed object costs one GET; a deleted object's file is removed", async () => {
    await put(K("a"), group("10.0.0.1:9100"));
    await put(K("b"), group("10.0.0.2:9100"));
    await put(K("c"), group("10.0.0.3:9100"));
    const { dir, syncer } = await setup();
    await syncer.syncOnce();
    sent = {};
    await put(K("b"), group("10.0.0.22:9100"));
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, written: 1, fetched: 1 });
    expect(sent).toEqual({ ListObjectsV2Command: 1, GetObjectCommand: 1 });
    expect((await jsonFiles(dir))[F("b")]).toBe(group("10.0.0.22:9100"));

    sent = {};
    await admin.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: K("c") }));
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, removed: 1 });
    expect(sent).toEqual({ ListObjectsV2Command: 1 });
    expect(Object.keys(await jsonFiles(dir))).toEqual([F("a"), F("b")]);
  });

  it("a conditional GET answered 304 is understood (IfNoneMatch)", async () => {
    await put(K("a"), group("10.0.0.1:9100"));
    const metrics = new SidecarMetrics();
    const store = new S3ObjectStore(client, BUCKET, metrics.observeRequest);
    const [listed] = await store.list("targets/", new AbortController().signal);
    const signal = new AbortController().signal;
    const got = await store.get(K("a"), { ifNoneMatch: listed?.etag, maxBytes: 1000, signal });
    expect(got).toEqual({ status: "not_modified" });
    const full = await store.get(K("a"), { ifNoneMatch: '"other"', maxBytes: 1000, signal });
    expect(full.status).toBe("ok");
    expect(await store.get(K("zz"), { ifNoneMatch: undefined, maxBytes: 1000, signal })).toEqual({
      status: "not_found",
    });
    expect(await store.get(K("a"), { ifNoneMatch: undefined, maxBytes: 5, signal })).toMatchObject({
      status: "too_large",
    });
  });

  it("a LIST failure keeps every file (bucket gone, then endpoint down)", async () => {
    await put(K("a"), group("10.0.0.1:9100"));
    const { dir, syncer, metrics } = await setup();
    await syncer.syncOnce();
    await admin.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: K("a") }));
    await admin.send(new DeleteBucketCommand({ Bucket: BUCKET }));
    expect((await syncer.syncOnce()).ok).toBe(false);
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.1:9100") });
    expect(await metrics.errorCount("list_failed")).toBe(1);

    const down = s3("http://127.0.0.1:9"); // nothing listens on the discard port
    const store = new S3ObjectStore(down, BUCKET);
    const offline = new Syncer(
      store,
      new FsLocalDir(dir, syncId(BUCKET, "targets/")),
      { bucket: BUCKET, prefix: "targets/", maxObjectBytes: 1000 },
      memoryLogger(),
      new SidecarMetrics(),
    );
    await offline.init();
    expect((await offline.syncOnce()).ok).toBe(false);
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.1:9100") });
    down.destroy();
  });

  it.each([
    ["not_json", "[{"],
    ["not_utf8", Uint8Array.from([0x5b, 0xc3, 0x28, 0x5d])],
    ["bad_shape", JSON.stringify([{ targets: ["10.0.0.1"] }])],
    ["too_large", `[${" ".repeat(5000)}]`],
  ])("a corrupt object (%s) keeps the last good file and is counted", async (kind, body) => {
    await put(K("a"), group("10.0.0.1:9100"));
    const { dir, syncer, metrics, logger } = await setup({ maxObjectBytes: 4096 });
    await syncer.syncOnce();
    await put(K("a"), body);
    sent = {};
    expect((await syncer.syncOnce()).ok).toBe(true);
    expect((await syncer.syncOnce()).ok).toBe(true);
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.1:9100") });
    expect(await metrics.errorCount(kind as "not_json")).toBe(1);
    expect(logger.records.filter((r) => r.event === "object_rejected" && r.key === K("a"))).toHaveLength(1);
    // too_large is refused from the listing's size, without a download
    expect(sent).toEqual(
      kind === "too_large" ? { ListObjectsV2Command: 2 } : { ListObjectsV2Command: 2, GetObjectCommand: 1 },
    );
  });

  it("keys that try to escape never write outside the directory", async () => {
    const keys = [
      "targets/../../etc/x.json",
      "targets/../x.json",
      "targets/a/b/c/d.json",
      "targets//tmp/abs.json",
      "targets/123456789012/us-east-1/../../../../x.json",
      "targets/123456789012/us-east-1/%2e%2e.json",
    ];
    for (const key of keys) await put(key, group("10.6.6.6:80"));
    await put(K("ok"), group("10.0.0.1:9100"));
    const root = await tempDir();
    const dir = join(root, "out");
    const logger = memoryLogger();
    const metrics = new SidecarMetrics();
    const syncer = new Syncer(
      new S3ObjectStore(client, BUCKET),
      new FsLocalDir(dir, syncId(BUCKET, "targets/")),
      { bucket: BUCKET, prefix: "targets/", maxObjectBytes: 1000 },
      logger,
      metrics,
    );
    await syncer.init();
    // S3 keeps these keys as written (no normalization): check that they really are listed as such.
    const listed = await admin.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    expect(listed.Contents?.map((c) => c.Key).sort()).toEqual([...keys, K("ok")].sort());
    expect((await syncer.syncOnce()).ok).toBe(true);
    expect(await readdir(root)).toEqual(["out"]);
    expect(Object.keys(await jsonFiles(dir))).toEqual([F("ok")]);
    expect(await metrics.errorCount("invalid_key")).toBe(keys.length);
    const rejected = logger.records.filter((r) => r.event === "key_rejected").map((r) => r.key);
    expect(rejected.sort()).toEqual([...keys].sort());
  });
});

describe("HTTP endpoints", () => {
  let http: RunningHttpServer | undefined;

  it("/targets, /metrics, /healthz (liveness) and /readyz (freshness)", async () => {
    await put(K("a"), JSON.stringify([{ targets: ["10.0.0.1:9100"], labels: { job: "a" } }]));
    await put(K("b"), JSON.stringify([{ targets: ["10.0.0.2:9100", "10.0.0.3:9100"] }]));
    const { syncer, metrics, logger } = await setup();
    let now = Date.now();
    const health = new SidecarHealth(syncer.history, {
      intervalMs: 5000,
      freshnessIntervals: 3,
      syncTimeoutMs: 60_000,
      now: () => now,
    });
    metrics.watchFreshness(() => health.fresh(), health.maxAgeMs / 1000);
    http = await startHttpServer({ host: "127.0.0.1", port: 0, syncer, metrics, logger, health });
    const base = `http://127.0.0.1:${http.port}`;
    try {
      // before the first sync: no answer that would make Prometheus drop its targets
      expect((await fetch(`${base}/targets`)).status).toBe(503);
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      // not yet synced is not dead: liveness is about the poll loop, never about S3
      expect((await fetch(`${base}/healthz`)).status).toBe(200);

      await syncer.syncOnce();
      now = syncer.lastSuccess ?? 0;
      const targets = await fetch(`${base}/targets`);
      expect(targets.status).toBe(200);
      expect(targets.headers.get("content-type")).toBe("application/json");
      expect(await targets.json()).toEqual([
        { targets: ["10.0.0.1:9100"], labels: { job: "a" } },
        { targets: ["10.0.0.2:9100", "10.0.0.3:9100"] },
      ]);

      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: "ok", check: "freshness", consecutive_failures: 0 });
      expect(await (await fetch(`${base}/healthz`)).json()).toMatchObject({ status: "ok", fresh: true });

      const text = await (await fetch(`${base}/metrics`)).text();
      expect(text).toMatch(/^ecs_discovery_sidecar_last_successful_sync_timestamp_seconds \d+/m);
      expect(text).toMatch(/^ecs_discovery_sidecar_objects 2$/m);
      expect(text).toMatch(/^ecs_discovery_sidecar_targets 3$/m);
      expect(text).toMatch(/^ecs_discovery_sidecar_object_bytes \d+$/m);
      expect(text).toMatch(/^ecs_discovery_sidecar_sync_duration_seconds_count\{result="success"\} 1$/m);
      expect(text).toMatch(
        /^ecs_discovery_sidecar_s3_requests_total\{operation="ListObjectsV2",outcome="ok"\} 1$/m,
      );
      expect(text).toMatch(
        /^ecs_discovery_sidecar_s3_requests_total\{operation="GetObject",outcome="ok"\} 2$/m,
      );
      expect(text).toMatch(/^ecs_discovery_sidecar_errors_total\{kind="bad_shape"\} 0$/m);
      expect(text).toMatch(/^ecs_discovery_sidecar_fresh 1$/m);
      expect(text).toMatch(/^ecs_discovery_sidecar_freshness_max_age_seconds 15$/m);

      // three intervals later without a successful sync: stale, and still alive
      now += 3 * 5000 + 1;
      const stale = await fetch(`${base}/readyz`);
      expect(stale.status).toBe(503);
      expect(await stale.json()).toMatchObject({ status: "stale", age_seconds: 15, max_age_seconds: 15 });
      expect((await fetch(`${base}/metrics`)).status).toBe(200);
      expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/^ecs_discovery_sidecar_fresh 0$/m);
      now -= 1;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);

      // a corrupt object: /targets still serves the last good groups, and the object is counted as refused
      await put(K("b"), "garbage");
      await syncer.syncOnce();
      expect(((await (await fetch(`${base}/targets`)).json()) as unknown[]).length).toBe(2);
      expect(await (await fetch(`${base}/metrics`)).text()).toMatch(
        /^ecs_discovery_sidecar_rejected_objects\{kind="not_json"\} 1$/m,
      );
      // a deleted object disappears from /targets
      await admin.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: K("b") }));
      await syncer.syncOnce();
      expect(await (await fetch(`${base}/targets`)).json()).toEqual([
        { targets: ["10.0.0.1:9100"], labels: { job: "a" } },
      ]);
      expect(await (await fetch(`${base}/metrics`)).text()).toMatch(
        /^ecs_discovery_sidecar_rejected_objects\{kind="not_json"\} 0$/m,
      );
      expect((await fetch(`${base}/nope`)).status).toBe(404);
      expect((await fetch(`${base}/targets`, { method: "POST" })).status).toBe(405);
    } finally {
      await http.close();
    }
  });
});
