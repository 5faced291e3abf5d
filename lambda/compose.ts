/**
 * The composition root: the one place that builds the engine's dependencies from a configuration. The
 * Lambda handler, the CLI, the tests and the benchmarks all go through it, so they run the same wiring:
 * counted and paced SDK clients → the ECS read API → caches → an output → the engine's deps.
 */
import { createAccountApis } from "./aws/account-access.js";
import { CallCounter } from "./aws/call-counter.js";
import { type AwsClients, createClients } from "./aws/clients.js";
import { type EcsReadApi, SdkEcsReadApi } from "./aws/ecs-read-api.js";
import type { EngineConfig } from "./config.js";
import { createCaches, type DiscoveryCaches } from "./discovery/caches.js";
import type { EngineDeps, Log } from "./engine/deps.js";
import type { ExplainDeps } from "./explain/explain.js";
import type { TargetOutput } from "./publish/target-output.js";

/** The SDK clients, and the counter every request attempt of theirs is recorded in. */
export interface AwsAccess {
  clients: AwsClients;
  counter: CallCounter;
  /** What the clients were made with: other accounts' clients are made alike. */
  settings: ClientSettings;
}

export interface ClientSettings {
  maxAttempts: number;
  /** Absent: the SDK's own resolution (AWS_REGION, the profile), as the CLI has it. */
  region?: string;
  /** The output bucket's region when it differs (TARGETS_BUCKET_REGION). */
  s3Region?: string;
  requestTimeoutMs?: number;
  connectionTimeoutMs?: number;
}

export function connectAws(settings: ClientSettings): AwsAccess {
  const counter = new CallCounter();
  return { clients: createClients({ ...settings, counter }), counter, settings };
}

export interface EngineParts {
  config: EngineConfig;
  log: Log;
  region: string;
  /** Where objects go: built from the clients (S3), or given (a directory, a test double). */
  output: TargetOutput | ((clients: AwsClients) => TargetOutput);
  accountId?: string;
  /** Shared between engines to model one warm function. @default fresh caches */
  caches?: DiscoveryCaches;
  /** Tests and benchmarks: a read API around the real one (faults, recording). */
  wrapApi?: (api: EcsReadApi) => EcsReadApi;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** The engine's deps on top of connected clients. */
export function assembleEngine(aws: AwsAccess, parts: EngineParts): EngineDeps {
  const { clients, counter } = aws;
  const api = new SdkEcsReadApi(clients.ecs, clients.ec2);
  const deps: EngineDeps = {
    api: parts.wrapApi ? parts.wrapApi(api) : api,
    finder: api,
    output: typeof parts.output === "function" ? parts.output(clients) : parts.output,
    config: parts.config,
    caches: parts.caches ?? createCaches(),
    log: parts.log,
    counter,
    region: parts.region,
  };
  if (parts.accountId !== undefined) deps.accountId = parts.accountId;
  if (parts.config.accounts?.accounts.length)
    deps.accounts = createAccountApis(parts.config.accounts, { ...aws.settings, counter });
  if (parts.now) deps.now = parts.now;
  if (parts.sleep) deps.sleep = parts.sleep;
  return deps;
}

/** Clients and engine deps in one step, when the region is known up front (the function, tests, bench). */
export function composeEngine(parts: EngineParts & Partial<Omit<ClientSettings, "region">>): {
  deps: EngineDeps;
  clients: AwsClients;
} {
  const { maxAttempts, requestTimeoutMs, connectionTimeoutMs, s3Region, ...rest } = parts;
  const aws = connectAws({
    maxAttempts: maxAttempts ?? parts.config.maxAttempts,
    region: parts.region,
    ...(requestTimeoutMs !== undefined ? { requestTimeoutMs } : {}),
    ...(connectionTimeoutMs !== undefined ? { connectionTimeoutMs } : {}),
    ...(s3Region !== undefined ? { s3Region } : {}),
  });
  return { deps: assembleEngine(aws, rest), clients: aws.clients };
}

/** What `explain` reads with: the same read API and caches as a run, and no output at all. */
export function assembleExplain(
  aws: AwsAccess,
  parts: { config: EngineConfig; region: string },
): ExplainDeps {
  const api = new SdkEcsReadApi(aws.clients.ecs, aws.clients.ec2);
  const deps: ExplainDeps = {
    api,
    finder: api,
    caches: createCaches(),
    config: parts.config,
    region: parts.region,
  };
  if (parts.config.accounts?.accounts.length) {
    const members = createAccountApis(parts.config.accounts, { ...aws.settings, counter: aws.counter });
    deps.accounts = { apiFor: (a) => members.apiFor(a), own: () => members.ownAccount() };
  }
  return deps;
}
