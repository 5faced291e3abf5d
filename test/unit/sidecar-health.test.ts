/**
 * Liveness (/healthz) apart from freshness (/readyz): S3 errors, IAM denials and hanging requests make the
 * sidecar stale, never dead; only a poll loop stuck beyond its sync timeout fails liveness, and then the
 * loop's watchdog ends it for the supervisor to restart. In process: fake S3, real directory, real HTTP.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Heartbeat, livenessBoundMs, SidecarHealth } from "../../sidecar/health.js";
import { type RunningHttpServer, startHttpServer } from "../../sidecar/http.js";
import { PollLoop } from "../../sidecar/loop.js";
import type { ListedObject } from "../../sidecar/store.js";
import { errorCode, SyncHistory } from "../../sidecar/sync-status.js";
import { FakeStore, group, jsonFiles, makeSyncer, tempDir, waitFor } from "../support/sidecar-fakes.js";

const K = (cluster: string) => `targets/123456789012/us-east-1/${cluster}.json`;
const F = (cluster: string) => `123456789012_us-east-1_${cluster}.json`;

/** A fake S3 that can deny (as IAM does), hang until aborted, or hang for good (ignoring the abort). */
class TroubledStore extends FakeStore {
  mode: "ok" | "denied" | "hang" | "stuck" = "ok";
  /** LIST calls answered with trouble. */
  troubled = 0;

  override async list(prefix: string, signal?: AbortSignal): Promise<ListedObject[]> {
    if (this.mode !== "ok") this.troubled++;
    if (this.mode === "denied") {
      throw Object.assign(new Error("User: arn:aws:sts::123456789012:assumed-role/x is not authorized"), {
        name: "AccessDenied",
        $metadata: { httpStatusCode: 403 },
      });
    }
    if (this.mode === "stuck") return new Promise(() => {});
    if (this.mode === "hang") {
      return new Promise((_, reject) => {
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    }
    return super.list(prefix);
  }
}

const stops: AbortController[] = [];
const servers: RunningHttpServer[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) stop.abort();
  for (const server of servers.splice(0)) await server.close();
});

async function running(options: { intervalMs: number; freshnessIntervals: number; syncTimeoutMs: number }) {
  const store = new TroubledStore();
  store.put(K("a"), group("10.0.0.1:9100", { job: "a" }));
  const dir = await tempDir();
  const { syncer, metrics, logger } = makeSyncer(store, dir);
  await syncer.init();
  const clock = { offset: 0 };
  const health = new SidecarHealth(syncer.history, { ...options, now: () => Date.now() + clock.offset });
  metrics.watchFreshness(() => health.fresh(), health.maxAgeMs / 1000);
  const http = await startHttpServer({ host: "127.0.0.1", port: 0, syncer, metrics, logger, health });
  servers.push(http);
  const stop = new AbortController();
  stops.push(stop);
  const loop = new PollLoop(syncer, health, { ...options, watchdogMs: 20 }, logger);
  const ended = loop.run(stop.signal);
  const base = `http://127.0.0.1:${http.port}`;
  const get = async (path: string) => {
    const res = await fetch(`${base}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const metric = async (name: string) =>
    Number(new RegExp(`^${name} (\\S+)$`, "m").exec(await (await fetch(`${base}/metrics`)).text())?.[1]);
  return { store, dir, syncer, logger, health, clock, ended, get, metric, base };
}

describe("SidecarHealth", () => {
  it("is fresh for freshnessIntervals intervals after a success, and stale before the first", () => {
    let now = 1_000_000;
    const history = new SyncHistory();
    const health = new SidecarHealth(history, {
      intervalMs: 5000,
      freshnessIntervals: 3,
      syncTimeoutMs: 60_000,
      now: () => now,
    });
    expect(health.readiness()).toMatchObject({
      ok: false,
      body: { status: "stale", reason: "no successful sync since start", last_successful_sync: null },
    });
    history.record("success", 12, now);
    expect(health.readiness()).toMatchObject({ ok: true, body: { status: "ok", age_seconds: 0 } });
    now += 15_000;
    expect(health.readiness().ok).toBe(true);
    now += 1;
    history.record("failure", 30, now);
    history.noteError("list_failed", Object.assign(new Error("x"), { code: "ECONNREFUSED" }), now);
    expect(health.readiness()).toMatchObject({
      ok: false,
      body: {
        status: "stale",
        consecutive_failures: 1,
        max_age_seconds: 15,
        last_sync: { result: "failure", duration_ms: 30 },
        last_error: { kind: "list_failed", code: "ECONNREFUSED" },
      },
    });
    expect(String(health.readiness().body.reason)).toMatch(/more than 15 s \(3 intervals of 5 s\)/);
    // stale is not dead
    expect(health.liveness().ok).toBe(true);
  });

  it("is live while the loop started an iteration within sync timeout + interval + grace", () => {
    expect(livenessBoundMs(5000, 300_000)).toBe(315_000);
    expect(livenessBoundMs(60_000, 300_000)).toBe(420_000);
    let now = 0;
    const health = new SidecarHealth(new SyncHistory(), {
      intervalMs: 5000,
      freshnessIntervals: 3,
      syncTimeoutMs: 300_000,
      now: () => now,
    });
    now = 315_000;
    expect(health.liveness().ok).toBe(true);
    health.heartbeat.started(now);
    now += 315_001;
    expect(health.liveness()).toMatchObject({
      ok: false,
      body: { status: "stuck", poll_loop: { iterations: 1, syncing: true, max_seconds: 315 } },
    });
    expect(String(health.liveness().body.reason)).toMatch(/outlived its timeout/);
    expect(new Heartbeat(5).lastStartMs).toBe(5);
  });

  it("reports an error's name or code, never its message", () => {
    const denied = Object.assign(new Error("User: arn:aws:iam::123456789012:role/secret-name is denied"), {
      name: "AccessDenied",
      $metadata: { httpStatusCode: 403 },
    });
    expect(errorCode(denied)).toBe("AccessDenied (HTTP 403)");
    expect(errorCode(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }))).toBe(
      "ECONNREFUSED",
    );
    expect(errorCode(new DOMException("timed out", "TimeoutError"))).toBe("TimeoutError");
    expect(errorCode(new Error("plain"))).toBeUndefined();
    expect(errorCode("a string")).toBeUndefined();
  });
});

describe("the poll loop under S3 trouble (fake S3, real HTTP)", () => {
  it("IAM denial: /healthz stays 200, /readyz turns 503 with the reason, files and /targets stay", async () => {
    const s = await running({ intervalMs: 20, freshnessIntervals: 3, syncTimeoutMs: 5000 });
    await waitFor("ready", async () => (await s.get("/readyz")).status === 200);
    const files = await jsonFiles(s.dir);
    expect(Object.keys(files)).toEqual([F("a")]);
    const targets = await (await fetch(`${s.base}/targets`)).text();

    s.store.mode = "denied";
    const stale = await waitFor("stale", async () => {
      const ready = await s.get("/readyz");
      expect((await s.get("/healthz")).status).toBe(200);
      return ready.status === 503 ? ready : undefined;
    });
    expect(stale.body).toMatchObject({
      status: "stale",
      check: "freshness",
      last_sync: { result: "failure" },
      last_error: { kind: "list_failed", code: "AccessDenied (HTTP 403)" },
    });
    expect(JSON.stringify(stale.body)).not.toMatch(/arn:aws/);
    expect(await s.metric("ecs_discovery_sidecar_fresh")).toBe(0);
    await waitFor("more failed syncs", () => s.syncer.history.consecutiveFailures >= 10);
    const live = await s.get("/healthz");
    expect(live).toMatchObject({ status: 200, body: { status: "ok", fresh: false } });
    expect(await jsonFiles(s.dir)).toEqual(files);
    expect(await (await fetch(`${s.base}/targets`)).text()).toBe(targets);

    s.store.mode = "ok";
    await waitFor("fresh again", async () => (await s.get("/readyz")).status === 200);
    expect(await s.metric("ecs_discovery_sidecar_fresh")).toBe(1);
  });

  it("a hanging S3: each sync is aborted at the sync timeout and counted; the loop goes on, alive", async () => {
    const s = await running({ intervalMs: 20, freshnessIntervals: 2, syncTimeoutMs: 50 });
    await waitFor("ready", async () => (await s.get("/readyz")).status === 200);
    s.store.mode = "hang";
    await waitFor("three timed-out syncs", async () => {
      const timeouts = await s.metric('ecs_discovery_sidecar_errors_total\\{kind="sync_timeout"\\}');
      return timeouts >= 3;
    });
    expect((await s.get("/healthz")).status).toBe(200);
    expect((await s.get("/readyz")).body).toMatchObject({
      status: "stale",
      last_error: { kind: "sync_timeout", code: "TimeoutError" },
    });
    expect(s.logger.records.some((r) => r.event === "sync_timed_out")).toBe(true);
    expect(s.logger.records.some((r) => r.event === "loop_stuck")).toBe(false);
    expect(Object.keys(await jsonFiles(s.dir))).toEqual([F("a")]);
  });

  it("a sync stuck for good fails /healthz past the bound, and the watchdog ends the loop", async () => {
    const s = await running({ intervalMs: 20, freshnessIntervals: 2, syncTimeoutMs: 50 });
    await waitFor("ready", async () => (await s.get("/readyz")).status === 200);
    s.store.mode = "stuck";
    await waitFor("a sync that hangs", () => s.health.heartbeat.syncing && s.store.troubled > 0);
    // not yet past the bound (sync timeout + interval + 10 s): alive, though stuck
    expect((await s.get("/healthz")).status).toBe(200);
    s.clock.offset = s.health.livenessBoundMs + 1000;
    const dead = await s.get("/healthz");
    expect(dead).toMatchObject({ status: 503, body: { status: "stuck", poll_loop: { syncing: true } } });
    expect(await s.ended).toBe("stuck");
    expect(s.logger.records.find((r) => r.event === "loop_stuck")).toMatchObject({ level: "error" });
    expect(Object.keys(await jsonFiles(s.dir))).toEqual([F("a")]);
  });
});
