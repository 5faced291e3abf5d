/**
 * Several buckets, one directory, one /targets, against S3 over HTTP (startS3: the stand-in, or moto):
 * - a Syncer over two S3 servers (a bucket each): both buckets' objects merge; a server stopped or a
 *   bucket deleted keeps that bucket's files while the other's changes arrive; a key both hold keeps the
 *   first bucket's;
 * - the sidecar as a child process behind a proxy that plays S3's regions (a request signed for another
 *   region than the bucket's is answered 301 with x-amz-bucket-region) and can deny one bucket: one
 *   client per learned region, so a bucket of another region costs one redirect, not one per request.
 */
import type { ChildProcess } from "node:child_process";
import { createServer, request, type Server } from "node:http";
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import { SidecarHealth } from "../../sidecar/health.js";
import { type RunningHttpServer, startHttpServer } from "../../sidecar/http.js";
import { FsLocalDir } from "../../sidecar/localdir.js";
import { memoryLogger } from "../../sidecar/log.js";
import { SidecarMetrics } from "../../sidecar/metrics.js";
import { S3ObjectStore } from "../../sidecar/store.js";
import { Syncer, syncId } from "../../sidecar/sync.js";
import { type S3Server, s3Client, s3Kind, startS3 } from "../support/s3.js";
import { group, jsonFiles, tempDir, waitFor } from "../support/sidecar-fakes.js";
import { spawnSidecar } from "../support/sidecar-process.js";

const K = (cluster: string, region = "us-east-1") => `targets/123456789012/${region}/${cluster}.json`;
const F = (cluster: string, region = "us-east-1") => `123456789012_${region}_${cluster}.json`;

const cleanUps: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanUp of cleanUps.splice(0).reverse()) await cleanUp();
});

/** An S3 server with `bucket` created, its admin client, and a put. */
async function serverWith(bucket: string) {
  const server = await startS3();
  const admin = s3Client(server.url);
  let stopped = false;
  const stop = async () => {
    if (!stopped) await server.stop();
    stopped = true;
  };
  cleanUps.push(async () => {
    admin.destroy();
    await stop();
  });
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  const put = (key: string, body: string) =>
    admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  return { server, admin, put, stop };
}

/** A Syncer reading bucket "sd-one" on server one and "sd-two" on server two, into a new directory. */
async function twoServers() {
  const one = await serverWith("sd-one");
  const two = await serverWith("sd-two");
  const metrics = new SidecarMetrics();
  const logger = memoryLogger();
  const clients = [s3Client(one.server.url), s3Client(two.server.url)] as const;
  cleanUps.push(() => {
    for (const client of clients) client.destroy();
  });
  const dir = await tempDir();
  const syncer = new Syncer(
    [
      { bucket: "sd-one", store: new S3ObjectStore(clients[0], "sd-one", metrics.observeRequest) },
      { bucket: "sd-two", store: new S3ObjectStore(clients[1], "sd-two", metrics.observeRequest) },
    ],
    new FsLocalDir(dir, syncId("sd-one,sd-two", "targets/")),
    { prefix: "targets/", maxObjectBytes: 1024 * 1024 },
    logger,
    metrics,
  );
  await syncer.init();
  return { one, two, dir, syncer, metrics, logger };
}

async function serve(syncer: Syncer, metrics: SidecarMetrics): Promise<string> {
  const health = new SidecarHealth(syncer.history, {
    intervalMs: 5000,
    freshnessIntervals: 3,
    syncTimeoutMs: 60_000,
  });
  const http: RunningHttpServer = await startHttpServer({
    host: "127.0.0.1",
    port: 0,
    syncer,
    metrics,
    logger: memoryLogger(),
    health,
  });
  cleanUps.push(() => http.close());
  return `http://127.0.0.1:${http.port}`;
}

describe(`several buckets into one directory (${s3Kind()})`, () => {
  it("both buckets' objects land in one directory and in one /targets", async () => {
    const { one, two, dir, syncer, metrics } = await twoServers();
    await one.put(K("a"), group("10.0.0.1:9100", { job: "a" }));
    await two.put(K("b", "eu-west-1"), group("10.1.0.1:9100", { job: "b" }));
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, written: 2, bucketsFailed: 0 });
    expect(await jsonFiles(dir)).toEqual({
      [F("b", "eu-west-1")]: group("10.1.0.1:9100", { job: "b" }),
      [F("a")]: group("10.0.0.1:9100", { job: "a" }),
    });
    const base = await serve(syncer, metrics);
    expect(await (await fetch(`${base}/targets`)).json()).toEqual([
      { targets: ["10.1.0.1:9100"], labels: { job: "b" } },
      { targets: ["10.0.0.1:9100"], labels: { job: "a" } },
    ]);
    expect(await metrics.requestCount("ListObjectsV2")).toBe(2);
  });

  it("a server stopped: its bucket's files stay, the other bucket's changes still arrive", async () => {
    const { one, two, dir, syncer, metrics, logger } = await twoServers();
    await one.put(K("a"), group("10.0.0.1:9100"));
    await two.put(K("b", "eu-west-1"), group("10.1.0.1:9100"));
    await syncer.syncOnce();
    const base = await serve(syncer, metrics);

    await two.stop(); // connections refused from now on
    await one.put(K("a"), group("10.0.0.2:9100"));
    await one.put(K("c"), group("10.0.0.3:9100"));
    expect(await syncer.syncOnce()).toMatchObject({ ok: false, written: 2, removed: 0, bucketsFailed: 1 });
    expect(await jsonFiles(dir)).toEqual({
      [F("b", "eu-west-1")]: group("10.1.0.1:9100"),
      [F("a")]: group("10.0.0.2:9100"),
      [F("c")]: group("10.0.0.3:9100"),
    });
    expect(((await (await fetch(`${base}/targets`)).json()) as unknown[]).length).toBe(3);
    expect(logger.records.find((r) => r.event === "list_failed")).toMatchObject({ bucket: "sd-two" });
    expect(await metrics.errorCount("list_failed")).toBe(1);
  });

  it("a bucket deleted: its files stay until it is back, and then follow its listing", async () => {
    const { one, two, dir, syncer } = await twoServers();
    await one.put(K("a"), group("10.0.0.1:9100"));
    await two.put(K("b", "eu-west-1"), group("10.1.0.1:9100"));
    await two.put(K("c", "eu-west-1"), group("10.1.0.2:9100"));
    await syncer.syncOnce();

    for (const key of [K("b", "eu-west-1"), K("c", "eu-west-1")]) {
      await two.admin.send(new DeleteObjectCommand({ Bucket: "sd-two", Key: key }));
    }
    await two.admin.send(new DeleteBucketCommand({ Bucket: "sd-two" }));
    await one.admin.send(new DeleteObjectCommand({ Bucket: "sd-one", Key: K("a") }));
    expect(await syncer.syncOnce()).toMatchObject({ ok: false, removed: 1, bucketsFailed: 1 });
    expect(Object.keys(await jsonFiles(dir))).toEqual([F("b", "eu-west-1"), F("c", "eu-west-1")]);

    await two.admin.send(new CreateBucketCommand({ Bucket: "sd-two" }));
    await two.put(K("b", "eu-west-1"), group("10.1.0.1:9100"));
    expect(await syncer.syncOnce()).toMatchObject({ ok: true, removed: 1, bucketsFailed: 0 });
    expect(Object.keys(await jsonFiles(dir))).toEqual([F("b", "eu-west-1")]);
  });

  it("a key both buckets hold keeps the first bucket's object; the other is counted as duplicate_key", async () => {
    const { one, two, dir, syncer, metrics, logger } = await twoServers();
    await one.put(K("a"), group("10.0.0.1:9100"));
    await two.put(K("a"), group("10.9.9.9:9100"));
    for (let i = 0; i < 3; i++) expect(await syncer.syncOnce()).toMatchObject({ ok: true });
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.1:9100") });
    expect(await metrics.requestCount("GetObject")).toBe(1);
    expect(await metrics.errorCount("duplicate_key")).toBe(1);
    expect(logger.records.filter((r) => r.event === "duplicate_key")).toMatchObject([
      { bucket: "sd-two", key: K("a") },
    ]);
    const base = await serve(syncer, metrics);
    expect(await (await fetch(`${base}/targets`)).json()).toEqual([
      { targets: ["10.0.0.1:9100"], labels: {} },
    ]);
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(
      /^ecs_discovery_sidecar_rejected_objects\{kind="duplicate_key"\} 1$/m,
    );
  });
});

/** A proxy in front of S3 that plays regions (REGIONS) and denies the buckets in `deny`. */
interface RegionProxy {
  url: string;
  redirects: Map<string, number>;
  deny: Set<string>;
}

async function regionProxy(upstream: string, regions: Record<string, string>): Promise<RegionProxy> {
  const redirects = new Map<string, number>();
  const deny = new Set<string>();
  const server: Server = createServer((req, res) => {
    const bucket = (req.url ?? "/").split(/[/?]/)[1] ?? "";
    const signedFor = /Credential=[^/]+\/\d+\/([^/]+)\//.exec(req.headers.authorization ?? "")?.[1];
    const home = regions[bucket];
    const answer = (status: number, headers: Record<string, string>, code: string) => {
      req.resume();
      res.writeHead(status, { "content-type": "application/xml", ...headers });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`,
      );
    };
    if (home !== undefined && signedFor !== home) {
      redirects.set(bucket, (redirects.get(bucket) ?? 0) + 1);
      return answer(301, { "x-amz-bucket-region": home }, "PermanentRedirect");
    }
    if (deny.has(bucket)) return answer(403, {}, "AccessDenied");
    const forward = request(`${upstream}${req.url}`, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    forward.on("error", () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanUps.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, redirects, deny };
}

interface Child {
  records: Array<Record<string, unknown>>;
  exit: Promise<number | null>;
  child: ChildProcess;
}

function sidecar(endpoint: string, args: string[]): Child {
  const running = spawnSidecar(endpoint, args);
  cleanUps.push(running.kill);
  return running;
}

/** Buckets "sd-east" (us-east-1, AWS_REGION) and "sd-west" (eu-west-1) behind a region proxy. */
async function eastAndWest() {
  const s3: S3Server = await startS3();
  const admin: S3Client = s3Client(s3.url);
  cleanUps.push(async () => {
    admin.destroy();
    await s3.stop();
  });
  const put = (bucket: string, key: string, body: string) =>
    admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
  for (const bucket of ["sd-east", "sd-west"]) await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  await put("sd-east", K("a"), group("10.0.0.1:9100"));
  for (const cluster of ["w1", "w2", "w3"])
    await put("sd-west", K(cluster, "eu-west-1"), group("10.1.0.1:9100"));
  const proxy = await regionProxy(s3.url, { "sd-east": "us-east-1", "sd-west": "eu-west-1" });
  return { proxy, put };
}

describe("a bucket per region, read by one sidecar (child process, region-playing proxy)", () => {
  it("a bucket of another region costs one redirect, learned; with name@region none", async () => {
    const { proxy } = await eastAndWest();
    const dir = await tempDir();
    const learned = sidecar(proxy.url, ["--once", "--bucket", "sd-east,sd-west", "--out-dir", dir]);
    expect(await learned.exit, JSON.stringify(learned.records)).toBe(0);
    expect(Object.keys(await jsonFiles(dir))).toEqual([
      F("w1", "eu-west-1"),
      F("w2", "eu-west-1"),
      F("w3", "eu-west-1"),
      F("a"),
    ]);
    // the LIST was redirected once; the three GETs went to eu-west-1 straight away
    expect(Object.fromEntries(proxy.redirects)).toEqual({ "sd-west": 1 });
    expect(learned.records.find((r) => r.event === "bucket_region_learned")).toMatchObject({
      bucket: "sd-west",
      region: "eu-west-1",
    });

    proxy.redirects.clear();
    const pinned = sidecar(proxy.url, [
      ...["--once", "--bucket", "sd-east", "--bucket", "sd-west@eu-west-1", "--out-dir", await tempDir()],
    ]);
    expect(await pinned.exit, JSON.stringify(pinned.records)).toBe(0);
    expect(proxy.redirects.size).toBe(0);
  });

  it("one bucket denied: its files stay, the other's changes arrive, /readyz turns stale, then fresh", async () => {
    const { proxy, put } = await eastAndWest();
    const dir = await tempDir();
    const run = sidecar(proxy.url, [
      ...["--bucket", "sd-east", "--bucket", "sd-west@eu-west-1", "--out-dir", dir],
      ...["--interval", "1s", "--freshness-intervals", "2", "--listen", "127.0.0.1:0"],
    ]);
    const listening = await waitFor("http_listening", () =>
      run.records.find((r) => r.event === "http_listening"),
    );
    const base = `http://127.0.0.1:${String(listening.port)}`;
    const readyz = async () => {
      const res = await fetch(`${base}/readyz`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    await waitFor("/readyz 200", async () => (await readyz()).status === 200);
    const west = Object.fromEntries(
      Object.entries(await jsonFiles(dir)).filter(([n]) => n.includes("eu-west-1")),
    );
    expect(Object.keys(west)).toHaveLength(3);

    proxy.deny.add("sd-west");
    await put("sd-east", K("a"), group("10.0.0.2:9100"));
    await waitFor("sd-east's change", async () => (await jsonFiles(dir))[F("a")] === group("10.0.0.2:9100"));
    const stale = await waitFor("/readyz 503", async () => {
      const answer = await readyz();
      return answer.status === 503 ? answer : undefined;
    });
    expect(stale.body).toMatchObject({
      status: "stale",
      last_sync: { result: "failure", buckets_failed: 1 },
      last_error: { kind: "list_failed", code: "AccessDenied (HTTP 403)" },
    });
    const files = await jsonFiles(dir);
    expect(Object.fromEntries(Object.entries(files).filter(([n]) => n.includes("eu-west-1")))).toEqual(west);
    expect(((await (await fetch(`${base}/targets`)).json()) as unknown[]).length).toBe(4);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);

    proxy.deny.delete("sd-west");
    await waitFor("/readyz 200 again", async () => (await readyz()).status === 200);
    run.child.kill("SIGTERM");
    expect(await run.exit).toBe(0);
  });
});
