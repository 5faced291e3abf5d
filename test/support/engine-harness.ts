import { composeEngine } from "../../lambda/compose.js";
import { loadEngineConfig } from "../../lambda/config.js";
import type { DiscoveryCaches } from "../../lambda/discovery/caches.js";
import type { EngineDeps, Log } from "../../lambda/engine/deps.js";
import { DiscoveryEngine } from "../../lambda/engine/run.js";
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
  const recorded = recordingLog();
  const { deps } = composeEngine({
    config: loadEngineConfig(options.env ?? {}),
    log: options.log ?? recorded.log,
    region: standIn.region,
    output,
    ...(options.caches ? { caches: options.caches } : {}),
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
  });
  return { engine: new DiscoveryEngine(deps), deps, lines: recorded.lines };
}
