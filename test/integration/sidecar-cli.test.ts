/** The sidecar as a child process (node --import tsx sidecar/main.ts) against S3 (startS3): CLI, signals, HTTP. */
import { type ChildProcess, spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { shippedNodeFlags } from "../bench/sidecar-scenarios.js";
import { type S3Server, startS3 } from "../support/s3.js";
import { group, jsonFiles, tempDir, waitFor } from "../support/sidecar-fakes.js";

const BUCKET = "sd-cli";
const K = (cluster: string) => `targets/123456789012/us-east-1/${cluster}.json`;
const F = (cluster: string) => `123456789012_us-east-1_${cluster}.json`;
const ROOT = join(import.meta.dirname, "..", "..");

let s3: S3Server;
let admin: S3Client;
const children: ChildProcess[] = [];

interface Run {
  child: ChildProcess;
  records: Array<Record<string, unknown>>;
  stderr: () => string;
  exit: Promise<number | null>;
}

function runSidecar(args: string[], env: Record<string, string> = {}, nodeFlags: string[] = []): Run {
  const child = spawn(process.execPath, [...nodeFlags, "--import", "tsx", "sidecar/main.ts", ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      AWS_ENDPOINT_URL: s3.url,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_MAX_ATTEMPTS: "1",
      ...env,
    },
  });
  children.push(child);
  const records: Array<Record<string, unknown>> = [];
  let buffer = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl = buffer.indexOf("\n");
    while (nl >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      records.push(JSON.parse(line) as Record<string, unknown>); // every stdout line must be JSON
      nl = buffer.indexOf("\n");
    }
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, records, stderr: () => stderr, exit };
}

/** What the sidecar said, for a failed expectation's message. */
const explain = (run: Run) => `records: ${JSON.stringify(run.records)}\nstderr: ${run.stderr()}`;

async function put(key: string, body: string) {
  await admin.send(
    new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: "application/json" }),
  );
}

beforeAll(async () => {
  s3 = await startS3();
  admin = new S3Client({
    endpoint: s3.url,
    forcePathStyle: true,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
});

beforeEach(async () => {
  await s3.reset();
  await admin.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

afterAll(async () => {
  admin?.destroy();
  await s3?.stop();
});

describe("sidecar CLI", () => {
  it.each([
    [["--out-dir", "/tmp/x"], /--bucket is required/],
    [
      ["--bucket", "sd-cli", "--out-dir", "/tmp/x", "--interval", "soon"],
      /--interval: "soon" is not a duration/,
    ],
    [["--bucket", "sd-cli", "--out-dir", "/tmp/x", "--listen", "everywhere"], /--listen/],
    [["--bucket", "sd-cli", "--out-dir", "/tmp/x", "--frobnicate"], /unknown flag --frobnicate/],
  ])("%j exits 2 with one line naming the flag", async (args, message) => {
    const run = runSidecar(args);
    expect(await run.exit).toBe(2);
    const lines = run
      .stderr()
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("prometheus-ecs-discovery-sidecar:"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  });

  it("--help prints the usage", async () => {
    const run = runSidecar(["--help"]);
    const out: string[] = [];
    run.child.stdout?.removeAllListeners("data");
    run.child.stdout?.on("data", (c: Buffer) => out.push(c.toString()));
    expect(await run.exit).toBe(0);
    expect(out.join("")).toMatch(/^Usage: prometheus-ecs-discovery-sidecar --bucket B --out-dir DIR/);
  });

  it("--once: exit 0 and files written when the sync succeeds (settings from the environment)", async () => {
    await put(K("a"), group("10.0.0.1:9100"));
    const dir = await tempDir();
    const run = runSidecar(["--once"], { SIDECAR_BUCKET: BUCKET, SIDECAR_OUT_DIR: dir });
    expect(await run.exit, explain(run)).toBe(0);
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.1:9100") });
    expect(run.records.find((r) => r.event === "sync_finished")).toMatchObject({
      result: "success",
      written: 1,
    });
  });

  it("syncs under the node flags the image starts it with, and warns about nothing", async () => {
    const flags = shippedNodeFlags();
    expect(flags.length).toBeGreaterThan(0);
    await put(K("a"), group("10.0.0.1:9100"));
    const dir = await tempDir();
    const run = runSidecar(["--once"], { SIDECAR_BUCKET: BUCKET, SIDECAR_OUT_DIR: dir }, flags);
    expect(await run.exit, explain(run)).toBe(0);
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.1:9100") });
    expect(run.stderr()).not.toMatch(/warning/i);
  });

  it("--once: exit non-zero when the sync fails (no such bucket), files untouched", async () => {
    await put(K("a"), group("10.0.0.1:9100"));
    const dir = await tempDir();
    const first = runSidecar(["--bucket", BUCKET, "--out-dir", dir, "--once"]);
    expect(await first.exit, explain(first)).toBe(0);
    const run = runSidecar(["--bucket", "no-such-bucket", "--out-dir", dir, "--once"]);
    expect(await run.exit).toBe(1);
    expect(run.records.find((r) => r.event === "list_failed")).toMatchObject({ level: "error" });
    expect(await jsonFiles(dir)).toEqual({ [F("a")]: group("10.0.0.1:9100") });
  });

  it("--once: exit non-zero when S3 is unreachable", async () => {
    const dir = await tempDir();
    const run = runSidecar(["--bucket", BUCKET, "--out-dir", dir, "--once"], {
      AWS_ENDPOINT_URL: "http://127.0.0.1:9",
    });
    expect(await run.exit).toBe(1);
  });

  it("SIGTERM mid-poll: clean exit 0, no temp file, only complete files", async () => {
    const count = 400;
    for (let i = 0; i < count; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, (_, j) =>
          put(K(`c${i + j}`), group(`10.0.${Math.floor((i + j) / 250)}.${((i + j) % 250) + 1}:9100`)),
        ),
      );
    }
    const dir = await tempDir();
    const run = runSidecar(["--bucket", BUCKET, "--out-dir", dir, "--interval", "1m"]);
    await waitFor("the first file written", () => run.records.some((r) => r.event === "file_written"));
    run.child.kill("SIGTERM");
    expect(await run.exit).toBe(0);
    // it really was mid-poll: the sync was cut short
    expect(run.records.find((r) => r.event === "sync_finished")).toMatchObject({ result: "aborted" });
    expect(run.records.at(-1)).toMatchObject({ event: "stopped" });
    const names = await readdir(dir);
    expect(names.filter((n) => n.endsWith(".tmp"))).toEqual([]);
    const files = await jsonFiles(dir);
    expect(Object.keys(files).length).toBeGreaterThan(0);
    expect(Object.keys(files).length).toBeLessThan(count);
    for (const text of Object.values(files)) expect(JSON.parse(text)).toHaveLength(1);
    // the state file records what was written, so a restart owns those files
    const state = JSON.parse(
      await readFile(join(dir, names.find((n) => n.endsWith(".state")) ?? "x"), "utf8"),
    );
    expect(Object.keys(state.files).sort()).toEqual(Object.keys(files).sort());
  });

  it("polls: picks up changes and deletions, serves /targets, /metrics, /healthz, /readyz; stops on SIGTERM", async () => {
    await put(K("a"), JSON.stringify([{ targets: ["10.0.0.1:9100"], labels: { job: "a" } }]));
    await put(K("b"), "[]");
    const dir = await tempDir();
    const run = runSidecar([
      "--bucket",
      BUCKET,
      "--out-dir",
      dir,
      "--interval",
      "1s",
      "--listen",
      "127.0.0.1:0",
    ]);
    const listening = await waitFor("http_listening", () =>
      run.records.find((r) => r.event === "http_listening"),
    );
    const base = `http://127.0.0.1:${String(listening.port)}`;
    // /healthz is liveness (200 from the start); /readyz says when the first sync has succeeded
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await waitFor("ready", async () => (await fetch(`${base}/readyz`)).status === 200);
    expect(await (await fetch(`${base}/targets`)).json()).toEqual([
      { targets: ["10.0.0.1:9100"], labels: { job: "a" } },
    ]);

    const changedAt = Date.now();
    await put(K("b"), group("10.0.0.2:9100"));
    await waitFor("b changed on disk", async () => (await jsonFiles(dir))[F("b")] === group("10.0.0.2:9100"));
    const latencyMs = Date.now() - changedAt;
    await admin.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: K("a") }));
    await waitFor("a removed", async () => !(F("a") in (await jsonFiles(dir))));
    await waitFor("/targets updated", async () => {
      const body = await (await fetch(`${base}/targets`)).json();
      return JSON.stringify(body) === JSON.stringify([{ targets: ["10.0.0.2:9100"], labels: {} }]);
    });

    // several unchanged polls: exactly one LIST each and no GET
    const metric = async (pattern: RegExp) => {
      const match = pattern.exec(await (await fetch(`${base}/metrics`)).text());
      return Number(match?.[1] ?? Number.NaN);
    };
    const lists =
      /^ecs_discovery_sidecar_s3_requests_total\{operation="ListObjectsV2",outcome="ok"\} (\d+)$/m;
    const gets = /^ecs_discovery_sidecar_s3_requests_total\{operation="GetObject",outcome="ok"\} (\d+)$/m;
    const syncs = /^ecs_discovery_sidecar_syncs_total\{result="success"\} (\d+)$/m;
    const [lists0, gets0, syncs0] = [await metric(lists), await metric(gets), await metric(syncs)];
    await waitFor("3 more syncs", async () => (await metric(syncs)) >= syncs0 + 3);
    const [lists1, gets1, syncs1] = [await metric(lists), await metric(gets), await metric(syncs)];
    expect(lists1 - lists0).toBe(syncs1 - syncs0);
    expect(gets1 - gets0).toBe(0);
    expect(await metric(/^process_resident_memory_bytes (\d+)/m)).toBeGreaterThan(0);

    const rss = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${run.child.pid}/status`, "utf8"))?.[1];
    console.log(
      `sidecar (tsx) VmRSS ${rss} kB; object change → file on disk ${latencyMs} ms at a 1s interval`,
    );

    run.child.kill("SIGTERM");
    expect(await run.exit).toBe(0);
    expect((await readdir(dir)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
  });
});
