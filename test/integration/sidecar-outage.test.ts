/**
 * "A sidecar that never takes Prometheus down": the sidecar as a child process, against S3 (startS3) that
 * goes away or hangs after a first good sync. Liveness (/healthz) must stay 200 throughout, the files and
 * /targets must stay as they were, while freshness (/readyz, ecs_discovery_sidecar_fresh) turns bad after
 * the configured intervals, and good again when S3 is back. Only polling with generous timeouts, no
 * timing assertions.
 */
import type { ChildProcess } from "node:child_process";
import { CreateBucketCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import { type S3FaultProxy, startS3FaultProxy } from "../faults/s3-proxy.js";
import { type S3Server, s3Client, startS3 } from "../support/s3.js";
import { group, jsonFiles, tempDir, waitFor } from "../support/sidecar-fakes.js";
import { spawnSidecar } from "../support/sidecar-process.js";

const BUCKET = "sd-outage";
const K = (cluster: string) => `targets/123456789012/us-east-1/${cluster}.json`;
const F = (cluster: string) => `123456789012_us-east-1_${cluster}.json`;

const cleanUps: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanUp of cleanUps.splice(0).reverse()) await cleanUp();
});

interface Sidecar {
  child: ChildProcess;
  records: Array<Record<string, unknown>>;
  exit: Promise<number | null>;
  base: string;
  get(path: string): Promise<{ status: number; body: Record<string, unknown> }>;
  metric(pattern: string): Promise<number>;
}

/** An S3 with a bucket and two objects, and an admin client. */
async function bucketWithObjects(): Promise<{ s3: S3Server; admin: S3Client }> {
  const s3 = await startS3();
  const admin = s3Client(s3.url);
  cleanUps.push(async () => {
    admin.destroy();
    await s3.stop();
  });
  await admin.send(new CreateBucketCommand({ Bucket: BUCKET }));
  for (const [cluster, target] of [
    ["a", "10.0.0.1:9100"],
    ["b", "10.0.0.2:9100"],
  ]) {
    await admin.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: K(cluster as string), Body: group(target as string) }),
    );
  }
  return { s3, admin };
}

async function startSidecar(endpoint: string, dir: string, args: string[]): Promise<Sidecar> {
  const { records, exit, child, kill } = spawnSidecar(endpoint, [
    "--bucket",
    BUCKET,
    "--out-dir",
    dir,
    ...args,
  ]);
  cleanUps.push(kill);
  const listening = await waitFor("http_listening", () => records.find((r) => r.event === "http_listening"));
  const base = `http://127.0.0.1:${String(listening.port)}`;
  return {
    child,
    records,
    exit,
    base,
    async get(path) {
      const res = await fetch(`${base}${path}`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    async metric(pattern) {
      const text = await (await fetch(`${base}/metrics`)).text();
      return Number(new RegExp(`^${pattern} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
    },
  };
}

/** Waits until /readyz says `status`, checking on every look that /healthz is still 200. */
async function readyzTurns(sidecar: Sidecar, status: number) {
  return waitFor(`/readyz ${status}`, async () => {
    const live = await sidecar.get("/healthz");
    expect(live.status, JSON.stringify(live.body)).toBe(200);
    const ready = await sidecar.get("/readyz");
    return ready.status === status ? ready : undefined;
  });
}

describe("the sidecar through an S3 outage", () => {
  it("S3 gone: /healthz stays 200, files and /targets stay, /readyz and the fresh gauge turn bad", async () => {
    const { s3 } = await bucketWithObjects();
    const dir = await tempDir();
    const sidecar = await startSidecar(s3.url, dir, [
      ...["--interval", "1s", "--freshness-intervals", "2", "--listen", "127.0.0.1:0"],
    ]);
    await readyzTurns(sidecar, 200);
    const files = await jsonFiles(dir);
    expect(Object.keys(files)).toEqual([F("a"), F("b")]);
    const targets = await (await fetch(`${sidecar.base}/targets`)).json();
    expect(targets).toHaveLength(2);
    expect(await sidecar.metric("ecs_discovery_sidecar_fresh")).toBe(1);

    await s3.stop(); // connections refused from now on
    const stale = await readyzTurns(sidecar, 503);
    expect(stale.body).toMatchObject({
      status: "stale",
      check: "freshness",
      max_age_seconds: 2,
      last_error: { kind: "list_failed" },
    });
    expect(stale.body.last_successful_sync).toEqual(expect.any(String));
    await waitFor(
      "the fresh gauge at 0",
      async () => (await sidecar.metric("ecs_discovery_sidecar_fresh")) === 0,
    );
    // several failed polls later: still alive, still serving what it had
    const failures = 'ecs_discovery_sidecar_syncs_total\\{result="failure"\\}';
    await waitFor("3 failed syncs", async () => (await sidecar.metric(failures)) >= 3);
    expect(await sidecar.get("/healthz")).toMatchObject({
      status: 200,
      body: { status: "ok", fresh: false },
    });
    expect(
      await sidecar.metric('ecs_discovery_sidecar_errors_total\\{kind="list_failed"\\}'),
    ).toBeGreaterThan(0);
    expect(await jsonFiles(dir)).toEqual(files);
    const still = await fetch(`${sidecar.base}/targets`);
    expect(still.status).toBe(200);
    expect(await still.json()).toEqual(targets);
    expect(sidecar.records.some((r) => r.event === "loop_stuck")).toBe(false);

    sidecar.child.kill("SIGTERM");
    expect(await sidecar.exit).toBe(0);
    expect(await jsonFiles(dir)).toEqual(files);
  });

  it("S3 hangs: syncs end at --sync-timeout, /healthz stays 200, and all is fresh again when S3 answers", async () => {
    const { s3 } = await bucketWithObjects();
    const proxy: S3FaultProxy = await startS3FaultProxy(s3.url, BUCKET);
    cleanUps.push(() => proxy.close());
    const dir = await tempDir();
    const sidecar = await startSidecar(proxy.url, dir, [
      ...["--interval", "1s", "--freshness-intervals", "2", "--sync-timeout", "2s"],
      ...["--listen", "127.0.0.1:0"],
    ]);
    await readyzTurns(sidecar, 200);
    const files = await jsonFiles(dir);

    proxy.inject({ action: { kind: "hang" } }); // every request: no answer, ever
    const stale = await readyzTurns(sidecar, 503);
    const timeouts = 'ecs_discovery_sidecar_errors_total\\{kind="sync_timeout"\\}';
    await waitFor("2 timed-out syncs", async () => (await sidecar.metric(timeouts)) >= 2);
    expect((await sidecar.get("/readyz")).body).toMatchObject({ last_error: { kind: "sync_timeout" } });
    expect(stale.body.status).toBe("stale");
    expect((await sidecar.get("/healthz")).status).toBe(200);
    expect(await jsonFiles(dir)).toEqual(files);
    expect(sidecar.records.some((r) => r.event === "sync_timed_out")).toBe(true);

    proxy.clear();
    const ready = await readyzTurns(sidecar, 200);
    expect(ready.body).toMatchObject({ status: "ok", consecutive_failures: 0 });
    expect(await sidecar.metric("ecs_discovery_sidecar_fresh")).toBe(1);
    sidecar.child.kill("SIGTERM");
    expect(await sidecar.exit).toBe(0);
  });
});
