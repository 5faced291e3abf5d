import { CallCounter } from "../../lambda/aws/call-counter.js";
import { createClients } from "../../lambda/aws/clients.js";
import { SdkEcsReadApi } from "../../lambda/aws/ecs-read-api.js";
import { loadEngineConfig } from "../../lambda/config.js";
import { createCaches, type DiscoveryCaches } from "../../lambda/discovery/caches.js";
import { DiscoveryEngine, type EngineDeps, type Log } from "../../lambda/engine.js";
import type { TargetOutput } from "../../lambda/publish/target-output.js";
import type { StandIn } from "../standin/index.js";

export interface LogLine {
  level: string;
  message: string;
  attributes?: Record<string, unknown>;
}

export function recordingLog(): { log: Log; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (message: string, attributes?: Record<string, unknown>) => {
    lines.push({ level, message, ...(attributes ? { attributes } : {}) });
  };
  return { log: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") }, lines };
}

/**
 * The engine with the real SDK clients, configured the standard way (AWS_ENDPOINT_URL_* and AWS_REGION
 * in the environment) to talk to a stand-in. Caches can be shared between engines to model a warm Lambda.
 */
export function engineAgainst(
  standIn: StandIn,
  output: TargetOutput,
  options: { env?: Record<string, string>; caches?: DiscoveryCaches; log?: Log; maxAttempts?: number } = {},
): { engine: DiscoveryEngine; deps: EngineDeps; lines: LogLine[] } {
  Object.assign(process.env, standIn.env());
  const config = loadEngineConfig(options.env ?? {});
  const counter = new CallCounter();
  const clients = createClients({
    maxAttempts: options.maxAttempts ?? config.maxAttempts,
    counter,
    region: standIn.region,
  });
  const recorded = recordingLog();
  const deps: EngineDeps = {
    api: new SdkEcsReadApi(clients.ecs, clients.ec2),
    output,
    config,
    caches: options.caches ?? createCaches(),
    log: options.log ?? recorded.log,
    counter,
    region: standIn.region,
  };
  return { engine: new DiscoveryEngine(deps), deps, lines: recorded.lines };
}
