/**
 * Configuration of the discovery engine, read from environment variables once (at cold start for the
 * Lambda, at start-up for the CLI) and validated up front, so a bad deployment fails with a message that
 * names the variable instead of misbehaving later.
 */

export interface LabelNames {
  port: string;
  path: string;
  scheme: string;
  jobName: string;
  serverName: string;
  interval: string;
  timeout: string;
  dynamicExport: string;
}

/** A container must carry `name` (and, when `value` is set, exactly that value) to be considered. */
export interface FilterLabel {
  name: string;
  value?: string;
}

/**
 * A selector makes containers targets without docker labels, for task definitions that cannot carry
 * them. At least one of `family` and `service` must be set; patterns must match the whole name.
 */
export interface Selector {
  family?: RegExp;
  service?: RegExp;
  container?: RegExp;
  port: number;
  path?: string;
  scheme?: "http" | "https";
  job?: string;
}

export interface EngineConfig {
  /** Cluster names or ARNs; empty means every cluster of the region. */
  clusters: string[];
  labels: LabelNames;
  filter?: FilterLabel;
  selectors: Selector[];
  includeTags: boolean;
  /** Clusters discovered at once, and describe batches in flight per cluster. */
  maxConcurrency: number;
  /** SDK attempts per call (adaptive retry mode). */
  maxAttempts: number;
  /** Churn guard: a reconcile removing more than this share of a cluster's tasks unannounced waits once. */
  churnGuardPercent: number;
}

export interface S3OutputConfig {
  bucket: string;
  /** Prefix of the file_sd objects, e.g. `targets/`; objects are `{prefix}{account}/{region}/{cluster}.json`. */
  prefix: string;
  /** Prefix of the engine's own state objects; kept apart so readers of `prefix` only see file_sd JSON. */
  statePrefix: string;
}

export interface LambdaConfig extends EngineConfig {
  output: S3OutputConfig;
}

export const DEFAULT_LABELS: LabelNames = {
  port: "PROMETHEUS_EXPORTER_PORT",
  path: "PROMETHEUS_EXPORTER_PATH",
  scheme: "PROMETHEUS_EXPORTER_SCHEME",
  jobName: "PROMETHEUS_EXPORTER_JOB_NAME",
  serverName: "PROMETHEUS_EXPORTER_SERVER_NAME",
  interval: "PROMETHEUS_EXPORTER_INTERVAL",
  timeout: "PROMETHEUS_EXPORTER_TIMEOUT",
  dynamicExport: "PROMETHEUS_DYNAMIC_EXPORT",
};

export const DEFAULT_TARGETS_PREFIX = "targets/";
export const DEFAULT_STATE_PREFIX = "state/";

/** Environment variable → the label name it overrides. */
export const LABEL_VARIABLES: Record<string, keyof LabelNames> = {
  PORT_LABEL: "port",
  PATH_LABEL: "path",
  SCHEME_LABEL: "scheme",
  JOB_NAME_LABEL: "jobName",
  SERVER_NAME_LABEL: "serverName",
  INTERVAL_LABEL: "interval",
  TIMEOUT_LABEL: "timeout",
  DYNAMIC_EXPORT_LABEL: "dynamicExport",
};

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`configuration: ${variable} ${problem}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const raw = env[name];
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  return trimmed === "" ? undefined : trimmed;
}

function positiveInt(env: Env, name: string, fallback: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw new ConfigError(name, `must be a whole number from 1 to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

const DOCKER_LABEL_NAME = /^[^\s=]+$/;
const CLUSTER_REF =
  /^(arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster\/[A-Za-z0-9_-]{1,255}|[A-Za-z0-9_-]{1,255})$/;

export function isClusterRef(value: string): boolean {
  return CLUSTER_REF.test(value);
}

export function parseClusterList(raw: string | undefined, variable = "CLUSTERS"): string[] {
  if (raw === undefined) return [];
  const items = raw
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter((s) => s !== "");
  for (const item of items) {
    if (!CLUSTER_REF.test(item)) {
      throw new ConfigError(
        variable,
        `has "${item}", which is neither an ECS cluster name nor a cluster ARN`,
      );
    }
  }
  return [...new Set(items)];
}

export function parseFilterLabel(raw: string | undefined): FilterLabel | undefined {
  if (raw === undefined) return undefined;
  const eq = raw.indexOf("=");
  const name = eq === -1 ? raw : raw.slice(0, eq);
  if (name === "" || /\s/.test(name)) {
    throw new ConfigError("FILTER_LABEL", `must be NAME or NAME=VALUE, got "${raw}"`);
  }
  return eq === -1 ? { name } : { name, value: raw.slice(eq + 1) };
}

function compilePattern(value: unknown, where: string): RegExp | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") {
    throw new ConfigError("SELECTORS", `${where} must be a non-empty string (a regular expression)`);
  }
  try {
    return new RegExp(`^(?:${value})$`);
  } catch (error) {
    throw new ConfigError(
      "SELECTORS",
      `${where} is not a valid regular expression: ${(error as Error).message}`,
    );
  }
}

export function parseSelectors(raw: string | undefined): Selector[] {
  if (raw === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError("SELECTORS", "must be a JSON array of selector objects");
  }
  if (!Array.isArray(parsed)) throw new ConfigError("SELECTORS", "must be a JSON array of selector objects");
  const known = new Set(["family", "service", "container", "port", "path", "scheme", "job"]);
  return parsed.map((entry: unknown, i): Selector => {
    const where = `[${i}]`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new ConfigError("SELECTORS", `${where} must be an object`);
    }
    const e = entry as Record<string, unknown>;
    for (const key of Object.keys(e)) {
      if (!known.has(key)) throw new ConfigError("SELECTORS", `${where} has unknown field "${key}"`);
    }
    const family = compilePattern(e.family, `${where}.family`);
    const service = compilePattern(e.service, `${where}.service`);
    if (!family && !service) throw new ConfigError("SELECTORS", `${where} needs "family" or "service"`);
    const port = e.port;
    if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ConfigError("SELECTORS", `${where}.port must be a port number from 1 to 65535`);
    }
    const selector: Selector = { port };
    if (family) selector.family = family;
    if (service) selector.service = service;
    const container = compilePattern(e.container, `${where}.container`);
    if (container) selector.container = container;
    if (e.path !== undefined) {
      if (typeof e.path !== "string" || !e.path.startsWith("/")) {
        throw new ConfigError("SELECTORS", `${where}.path must start with "/"`);
      }
      selector.path = e.path;
    }
    if (e.scheme !== undefined) {
      if (e.scheme !== "http" && e.scheme !== "https") {
        throw new ConfigError("SELECTORS", `${where}.scheme must be "http" or "https"`);
      }
      selector.scheme = e.scheme;
    }
    if (e.job !== undefined) {
      if (typeof e.job !== "string" || e.job === "")
        throw new ConfigError("SELECTORS", `${where}.job must be a string`);
      selector.job = e.job;
    }
    return selector;
  });
}

function parseInclude(raw: string | undefined): boolean {
  if (raw === undefined) return false;
  const items = raw.split(/[,\s]+/).filter((s) => s !== "");
  for (const item of items) {
    if (item.toUpperCase() !== "TAGS")
      throw new ConfigError("INCLUDE", `supports only "TAGS", got "${item}"`);
  }
  return items.length > 0;
}

function parsePrefix(env: Env, name: string, fallback: string): string {
  const raw = env[name];
  if (raw === undefined) return fallback;
  const value = raw.trim();
  if (value.startsWith("/") || value.includes("..") || /[\s\\]/.test(value)) {
    throw new ConfigError(
      name,
      `must be an S3 key prefix without a leading "/", "..", spaces or backslashes, got "${raw}"`,
    );
  }
  return value;
}

export function loadEngineConfig(env: Env): EngineConfig {
  const labels: LabelNames = { ...DEFAULT_LABELS };
  for (const [variable, key] of Object.entries(LABEL_VARIABLES)) {
    const value = read(env, variable);
    if (value === undefined) continue;
    if (!DOCKER_LABEL_NAME.test(value)) {
      throw new ConfigError(variable, `must be a docker label name without spaces or "=", got "${value}"`);
    }
    labels[key] = value;
  }
  const config: EngineConfig = {
    clusters: parseClusterList(read(env, "CLUSTERS")),
    labels,
    selectors: parseSelectors(read(env, "SELECTORS")),
    includeTags: parseInclude(read(env, "INCLUDE")),
    maxConcurrency: positiveInt(env, "MAX_CONCURRENCY", 8, 64),
    maxAttempts: positiveInt(env, "MAX_ATTEMPTS", 6, 20),
    churnGuardPercent: positiveInt(env, "CHURN_GUARD_PERCENT", 50, 100),
  };
  const filter = parseFilterLabel(read(env, "FILTER_LABEL"));
  if (filter) config.filter = filter;
  return config;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function validateBucket(bucket: string | undefined, variable: string): string {
  if (bucket === undefined)
    throw new ConfigError(variable, "is required (the S3 bucket for the file_sd objects)");
  if (!BUCKET_NAME.test(bucket))
    throw new ConfigError(variable, `is not a valid S3 bucket name: "${bucket}"`);
  return bucket;
}

export function loadS3OutputConfig(env: Env): S3OutputConfig {
  return {
    bucket: validateBucket(read(env, "TARGETS_BUCKET"), "TARGETS_BUCKET"),
    prefix: parsePrefix(env, "TARGETS_PREFIX", DEFAULT_TARGETS_PREFIX),
    statePrefix: parsePrefix(env, "STATE_PREFIX", DEFAULT_STATE_PREFIX),
  };
}

export function loadLambdaConfig(env: Env): LambdaConfig {
  const engine = loadEngineConfig(env);
  const output = loadS3OutputConfig(env);
  if (
    output.prefix === output.statePrefix ||
    (output.prefix !== "" && output.statePrefix.startsWith(output.prefix))
  ) {
    throw new ConfigError("STATE_PREFIX", `must not lie inside TARGETS_PREFIX ("${output.prefix}")`);
  }
  return { ...engine, output };
}
