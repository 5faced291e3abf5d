import type { AccountApis } from "../aws/account-access.js";
import type { CallCounter } from "../aws/call-counter.js";
import type { EcsReadApi, TaskFinder } from "../aws/ecs-read-api.js";
import type { EngineConfig } from "../config.js";
import type { DiscoveryCaches } from "../discovery/caches.js";
import type { TargetOutput } from "../publish/target-output.js";

/** The logging surface the engine needs; Powertools' Logger satisfies it, and so does a console shim. */
export interface Log {
  debug(message: string, attributes?: Record<string, unknown>): void;
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

/** Everything a run touches, passed in: built by `compose.ts` for the handler, the CLI, tests and bench. */
export interface EngineDeps {
  api: EcsReadApi;
  /** `explain`'s listings by service or family (never wrapped: explain is read-only and runs alone). */
  finder?: TaskFinder;
  output: TargetOutput;
  config: EngineConfig;
  caches: DiscoveryCaches;
  log: Log;
  counter: CallCounter;
  /** The region the clients talk to; events from other regions are not this deployment's. */
  region: string;
  /** The account, when known without a cluster ARN (from the Lambda context); used to clean up objects. */
  accountId?: string;
  /** Other accounts' read APIs (ACCOUNTS); absent: the own account only. */
  accounts?: AccountApis;
  now?: () => number;
  /** Pauses between conflicting publish rounds; tests pass an instant one. */
  sleep?: (ms: number) => Promise<void>;
}
