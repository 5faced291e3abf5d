/**
 * One small, complete deployment for fault tests: the ECS/EC2 stand-in, S3 (startS3) behind a fault proxy,
 * and discovery engines built the way the Lambda builds them (real SDK clients, S3 output with
 * conditional writes), but with short timeouts and few attempts so "beyond retries" is reached quickly.
 */
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import type { CallCounter } from "../../lambda/aws/call-counter.js";
import type { EcsReadApi } from "../../lambda/aws/ecs-read-api.js";
import { composeEngine } from "../../lambda/compose.js";
import { loadEngineConfig } from "../../lambda/config.js";
import type { DiscoveryCaches } from "../../lambda/discovery/caches.js";
import type { Log } from "../../lambda/engine/deps.js";
import { DiscoveryEngine } from "../../lambda/engine/run.js";
import { S3TargetOutput } from "../../lambda/publish/s3-output.js";
import type { TargetOutput } from "../../lambda/publish/target-output.js";
import { serializeGroups, validateFileSd } from "../../lambda/shared/file-sd.js";
import { parseTrigger } from "../../lambda/triggers/parse-trigger.js";
import { type StandIn, startStandIn } from "../standin/index.js";
import { type LogLine, recordingLog } from "../support/engine-harness.js";
import type { S3Server } from "../support/s3.js";
import { type S3FaultProxy, startS3FaultProxy } from "./s3-proxy.js";

export const BUCKET = "fault-targets";
export const TARGETS = "targets/";
export const STATE = "state/";
export const CLUSTERS = ["alpha", "bravo", "charlie"] as const;
/** Short enough that a hung call fails fast, long enough for any answer of this tiny fleet. */
export const REQUEST_TIMEOUT_MS = 250;

export interface World {
  standIn: StandIn;
  proxy: S3FaultProxy;
  /** Talks to S3 directly, past the proxy: what is really stored. */
  admin: S3Client;
  account: string;
  region: string;
  close(): Promise<void>;
}

export function adminClient(url: string): S3Client {
  return new S3Client({
    endpoint: url,
    forcePathStyle: true,
    region: "us-east-1",
    credentials: { accessKeyId: "admin", secretAccessKey: "admin" },
    maxAttempts: 1,
  });
}

/** A fresh stand-in and an empty bucket; the engine's S3 traffic goes through the fault proxy. */
export async function startWorld(s3: S3Server): Promise<World> {
  await s3.reset();
  const admin = adminClient(s3.url);
  await admin.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const standIn = await startStandIn();
  const proxy = await startS3FaultProxy(s3.url, BUCKET);
  Object.assign(process.env, standIn.env(), { AWS_ENDPOINT_URL_S3: proxy.url });
  return {
    standIn,
    proxy,
    admin,
    account: standIn.account,
    region: standIn.region,
    async close() {
      proxy.clear();
      await proxy.close();
      await standIn.close();
      admin.destroy();
    },
  };
}

export interface BuiltEngine {
  engine: DiscoveryEngine;
  lines: LogLine[];
  output: TargetOutput;
  api: EcsReadApi;
  counter: CallCounter;
}

export interface EngineOptions {
  env?: Record<string, string>;
  maxAttempts?: number;
  caches?: DiscoveryCaches;
  wrapApi?: (api: EcsReadApi) => EcsReadApi;
  wrapOutput?: (output: TargetOutput) => TargetOutput;
  log?: Log;
}

/** An engine as a fresh Lambda instance would have it: own clients, own caches, S3 through the proxy. */
export function buildEngine(world: World, options: EngineOptions = {}): BuiltEngine {
  const recorded = recordingLog();
  const { deps } = composeEngine({
    config: loadEngineConfig(options.env ?? {}),
    log: options.log ?? recorded.log,
    region: world.region,
    accountId: world.account,
    maxAttempts: options.maxAttempts ?? 2,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    connectionTimeoutMs: REQUEST_TIMEOUT_MS,
    output: (clients) => {
      const base = new S3TargetOutput(clients.s3, BUCKET, TARGETS, STATE);
      return options.wrapOutput ? options.wrapOutput(base) : base;
    },
    ...(options.caches ? { caches: options.caches } : {}),
    ...(options.wrapApi ? { wrapApi: options.wrapApi } : {}),
  });
  const { output, api, counter } = deps;
  return { engine: new DiscoveryEngine(deps), lines: recorded.lines, output, api, counter };
}

export const targetsKey = (world: World, cluster: string) =>
  `${TARGETS}${world.account}/${world.region}/${cluster}.json`;
export const stateKey = (world: World, cluster: string) =>
  `${STATE}${world.account}/${world.region}/${cluster}.json`;

/** Every stored object under a prefix, read from S3 directly, past the proxy. */
export async function storedObjects(world: World, prefix = TARGETS): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const listing = await world.admin.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  for (const item of listing.Contents ?? []) {
    if (!item.Key) continue;
    const got = await world.admin.send(new GetObjectCommand({ Bucket: BUCKET, Key: item.Key }));
    out.set(item.Key, (await got.Body?.transformToString("utf-8")) ?? "");
  }
  return out;
}

/**
 * What a healthy reconcile would publish right now, by targets key: a dry run of a fault-free engine
 * (it reads the stored state but writes nothing). Faults must be cleared first.
 */
export async function truth(world: World, env: Record<string, string> = {}): Promise<Map<string, string>> {
  const { engine } = buildEngine(world, { env, maxAttempts: 3 });
  const summary = await engine.run(parseTrigger({ action: "resync", dryRun: true }));
  if (!summary.ok) throw new Error(`the fault-free dry run failed: ${JSON.stringify(summary.clusters)}`);
  const out = new Map<string, string>();
  for (const [name, groups] of Object.entries(summary.targetGroups ?? {})) {
    out.set(targetsKey(world, name), serializeGroups(groups));
  }
  return out;
}

export function targetsOf(body: string | undefined): string[] {
  if (body === undefined) return [];
  return (JSON.parse(body) as { targets: string[] }[]).flatMap((g) => g.targets).sort();
}

/** Problems with the file_sd objects a run stored; empty when every object is complete and valid. */
export function invalidBodies(bodies: Iterable<[string, string]>): string[] {
  const problems: string[] = [];
  for (const [key, body] of bodies) {
    if (!key.startsWith(TARGETS)) continue;
    const check = validateFileSd(Buffer.from(body));
    if (!check.ok) problems.push(`${key}: ${check.reason}`);
  }
  return problems;
}
