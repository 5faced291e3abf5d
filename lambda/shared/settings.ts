/**
 * The settings contract: every environment variable the discovery function reads, its default and its
 * validation rule. The function's config (at cold start), the CLI and the CDK construct (at synth) all
 * go through this module, so a renamed variable or a changed default is one edit, and a bad value fails
 * the same way everywhere, with a message that names the variable.
 *
 * Dependency-free: values come out as plain data (patterns as strings); compiling them into the rules
 * target building uses is `core/rules.ts`'s job.
 */
import { DEFAULT_TARGETS_PREFIX } from "./file-sd.js";

export { DEFAULT_TARGETS_PREFIX };
export const DEFAULT_STATE_PREFIX = "state/";

/** Powertools' service name and the CloudWatch namespace of the function's metrics. */
export const SERVICE_NAME = "prometheus-ecs-discovery";
export const METRICS_NAMESPACE = "PrometheusEcsDiscovery";

/** Powertools' own variables, which the construct sets and the function reads. */
export const POWERTOOLS_VARIABLES = {
  logLevel: "POWERTOOLS_LOG_LEVEL",
  serviceName: "POWERTOOLS_SERVICE_NAME",
  metricsNamespace: "POWERTOOLS_METRICS_NAMESPACE",
} as const;

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`configuration: ${variable} ${problem}`);
    this.name = "ConfigError";
  }
}

/** Docker label names a container opts in with; each can be renamed by its own variable. */
export const LABEL_VARIABLES = {
  port: "PORT_LABEL",
  path: "PATH_LABEL",
  scheme: "SCHEME_LABEL",
  jobName: "JOB_NAME_LABEL",
  serverName: "SERVER_NAME_LABEL",
  interval: "INTERVAL_LABEL",
  timeout: "TIMEOUT_LABEL",
  dynamicExport: "DYNAMIC_EXPORT_LABEL",
} as const;
export type LabelKey = keyof typeof LABEL_VARIABLES;

/** The old poller's label names, so its users' task definitions keep working. */
export const DEFAULT_LABEL_NAMES: Readonly<Record<LabelKey, string>> = {
  port: "PROMETHEUS_EXPORTER_PORT",
  path: "PROMETHEUS_EXPORTER_PATH",
  scheme: "PROMETHEUS_EXPORTER_SCHEME",
  jobName: "PROMETHEUS_EXPORTER_JOB_NAME",
  serverName: "PROMETHEUS_EXPORTER_SERVER_NAME",
  interval: "PROMETHEUS_EXPORTER_INTERVAL",
  timeout: "PROMETHEUS_EXPORTER_TIMEOUT",
  dynamicExport: "PROMETHEUS_DYNAMIC_EXPORT",
};

export const VARIABLES = {
  clusters: "CLUSTERS",
  filterLabel: "FILTER_LABEL",
  selectors: "SELECTORS",
  include: "INCLUDE",
  dynamicExport: "DYNAMIC_EXPORT",
  bucket: "TARGETS_BUCKET",
  targetsPrefix: "TARGETS_PREFIX",
  statePrefix: "STATE_PREFIX",
  bucketRegion: "TARGETS_BUCKET_REGION",
  accounts: "ACCOUNTS",
  accountRoleArn: "ACCOUNT_ROLE_ARN",
  accountRoleExternalId: "ACCOUNT_ROLE_EXTERNAL_ID",
} as const;

/** Whole-number settings: variable, default and largest value (the smallest is always 1). */
export const NUMBER_SETTINGS = {
  /** Clusters discovered at once, and describe batches in flight per cluster. */
  maxConcurrency: { variable: "MAX_CONCURRENCY", default: 8, max: 64 },
  /** SDK attempts per AWS call (adaptive retry mode). */
  maxAttempts: { variable: "MAX_ATTEMPTS", default: 6, max: 20 },
  /** Churn guard: a reconcile removing more than this share of a cluster's tasks unannounced waits once. */
  churnGuardPercent: { variable: "CHURN_GUARD_PERCENT", default: 50, max: 100 },
  /**
   * A scheduled reconcile describes every listed task (and refreshes every EC2 instance) once this many
   * minutes have passed since the last one that did; the others describe only what the state lacks.
   */
  fullDescribeMinutes: { variable: "FULL_DESCRIBE_MINUTES", default: 60, max: 1440 },
} as const;
export type NumberSetting = keyof typeof NUMBER_SETTINGS;

/** A container must carry `name` (and, when `value` is set, exactly that value) to be considered. */
export interface FilterSetting {
  name: string;
  value?: string;
}

/**
 * A selector as written in `SELECTORS`: makes containers targets without docker labels. Patterns are
 * regular expressions that must match the whole name; at least one of `family` and `service` is set.
 */
export interface SelectorSetting {
  family?: string;
  service?: string;
  container?: string;
  port: number;
  path?: string;
  scheme?: "http" | "https";
  job?: string;
}

/** What `INCLUDE` can turn on beyond the labels every target carries. */
export const INCLUDE_ITEMS = ["TAGS", "SERVICES"] as const;
export type IncludeItem = (typeof INCLUDE_ITEMS)[number];

/**
 * `DYNAMIC_EXPORT`: `per-container` (default) lets each container choose between its port label and the
 * dynamic-export label; `only` is the old poller's global dynamic-port mode, where only containers with
 * the dynamic-export label set count and the port label is ignored.
 */
export const DYNAMIC_EXPORT_MODES = ["per-container", "only"] as const;
export type DynamicExportMode = (typeof DYNAMIC_EXPORT_MODES)[number];

export interface DiscoverySettings {
  /** Cluster names or ARNs; empty means every cluster of the region. */
  clusters: string[];
  labels: Record<LabelKey, string>;
  filter?: FilterSetting;
  selectors: SelectorSetting[];
  /** `INCLUDE=TAGS`: the cluster, service, task and EC2 instance tag label families. */
  includeTags: boolean;
  /** `INCLUDE=SERVICES`: the service's ARN and status (and its tags, with TAGS), from DescribeServices. */
  includeServices: boolean;
  dynamicExport: DynamicExportMode;
  maxConcurrency: number;
  maxAttempts: number;
  churnGuardPercent: number;
  fullDescribeMinutes: number;
}

export type Env = Record<string, string | undefined>;

/** A variable's value, trimmed; unset and blank are the same. */
export function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === "" ? undefined : value;
}

function wholeNumber(env: Env, setting: NumberSetting): number {
  const { variable, default: fallback, max } = NUMBER_SETTINGS[setting];
  const raw = read(env, variable);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) {
    throw new ConfigError(variable, `must be a whole number from 1 to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

const DOCKER_LABEL_NAME = /^[^\s=]+$/;
const CLUSTER_REF =
  /^(arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster\/[A-Za-z0-9_-]{1,255}|[A-Za-z0-9_-]{1,255})$/;

/** An ECS cluster name or cluster ARN. */
export function isClusterRef(value: string): boolean {
  return CLUSTER_REF.test(value);
}

/** Names or ARNs separated by commas or white space, deduplicated. */
export function parseClusterList(raw: string | undefined, variable: string = VARIABLES.clusters): string[] {
  if (raw === undefined) return [];
  const items = raw.split(/[,\s]+/).filter((s) => s !== "");
  const bad = items.find((item) => !CLUSTER_REF.test(item));
  if (bad !== undefined)
    throw new ConfigError(variable, `has "${bad}", which is neither an ECS cluster name nor a cluster ARN`);
  return [...new Set(items)];
}

function parseFilterLabel(raw: string | undefined): FilterSetting | undefined {
  if (raw === undefined) return undefined;
  const eq = raw.indexOf("=");
  const name = eq === -1 ? raw : raw.slice(0, eq);
  if (name === "" || /\s/.test(name))
    throw new ConfigError(VARIABLES.filterLabel, `must be NAME or NAME=VALUE, got "${raw}"`);
  return eq === -1 ? { name } : { name, value: raw.slice(eq + 1) };
}

const SELECTOR_FIELDS = new Set(["family", "service", "container", "port", "path", "scheme", "job"]);

function selectorError(problem: string): ConfigError {
  return new ConfigError(VARIABLES.selectors, problem);
}

function pattern(value: unknown, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "")
    throw selectorError(`${where} must be a non-empty string (a regular expression)`);
  try {
    new RegExp(`^(?:${value})$`);
  } catch (error) {
    throw selectorError(`${where} is not a valid regular expression: ${(error as Error).message}`);
  }
  return value;
}

function parseSelector(entry: unknown, i: number): SelectorSetting {
  const where = `[${i}]`;
  if (typeof entry !== "object" || entry === null || Array.isArray(entry))
    throw selectorError(`${where} must be an object`);
  const e = entry as Record<string, unknown>;
  const unknownField = Object.keys(e).find((key) => !SELECTOR_FIELDS.has(key));
  if (unknownField !== undefined) throw selectorError(`${where} has unknown field "${unknownField}"`);
  const family = pattern(e.family, `${where}.family`);
  const service = pattern(e.service, `${where}.service`);
  if (!family && !service) throw selectorError(`${where} needs "family" or "service"`);
  const port = e.port;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)
    throw selectorError(`${where}.port must be a port number from 1 to 65535`);
  const selector: SelectorSetting = { port };
  if (family) selector.family = family;
  if (service) selector.service = service;
  const container = pattern(e.container, `${where}.container`);
  if (container) selector.container = container;
  if (e.path !== undefined) {
    if (typeof e.path !== "string" || !e.path.startsWith("/"))
      throw selectorError(`${where}.path must start with "/"`);
    selector.path = e.path;
  }
  if (e.scheme !== undefined) {
    if (e.scheme !== "http" && e.scheme !== "https")
      throw selectorError(`${where}.scheme must be "http" or "https"`);
    selector.scheme = e.scheme;
  }
  if (e.job !== undefined) {
    if (typeof e.job !== "string" || e.job === "") throw selectorError(`${where}.job must be a string`);
    selector.job = e.job;
  }
  return selector;
}

/** `SELECTORS`: a JSON array of selector objects. */
export function parseSelectors(raw: string | undefined): SelectorSetting[] {
  if (raw === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw selectorError("must be a JSON array of selector objects");
  }
  if (!Array.isArray(parsed)) throw selectorError("must be a JSON array of selector objects");
  return parsed.map(parseSelector);
}

/** `INCLUDE`: a comma-separated list of INCLUDE_ITEMS, any case. */
function parseInclude(raw: string | undefined): Set<IncludeItem> {
  const items = new Set<IncludeItem>();
  if (raw === undefined) return items;
  for (const item of raw.split(/[,\s]+/).filter((s) => s !== "")) {
    const upper = item.toUpperCase();
    if (!(INCLUDE_ITEMS as readonly string[]).includes(upper)) {
      throw new ConfigError(
        VARIABLES.include,
        `supports ${INCLUDE_ITEMS.map((i) => `"${i}"`).join(" and ")} (comma-separated), got "${item}"`,
      );
    }
    items.add(upper as IncludeItem);
  }
  return items;
}

function parseDynamicExport(raw: string | undefined): DynamicExportMode {
  if (raw === undefined) return "per-container";
  const mode = raw.toLowerCase();
  if (!(DYNAMIC_EXPORT_MODES as readonly string[]).includes(mode)) {
    throw new ConfigError(
      VARIABLES.dynamicExport,
      `must be ${DYNAMIC_EXPORT_MODES.map((m) => `"${m}"`).join(" or ")}, got "${raw}"`,
    );
  }
  return mode as DynamicExportMode;
}

function labelNames(env: Env): Record<LabelKey, string> {
  const labels = { ...DEFAULT_LABEL_NAMES };
  for (const [key, variable] of Object.entries(LABEL_VARIABLES) as [LabelKey, string][]) {
    const value = read(env, variable);
    if (value === undefined) continue;
    if (!DOCKER_LABEL_NAME.test(value))
      throw new ConfigError(variable, `must be a docker label name without spaces or "=", got "${value}"`);
    labels[key] = value;
  }
  return labels;
}

/** What discovery needs, from the environment; throws ConfigError naming the first bad variable. */
export function readDiscoverySettings(env: Env): DiscoverySettings {
  const include = parseInclude(read(env, VARIABLES.include));
  const settings: DiscoverySettings = {
    clusters: parseClusterList(read(env, VARIABLES.clusters)),
    labels: labelNames(env),
    selectors: parseSelectors(read(env, VARIABLES.selectors)),
    includeTags: include.has("TAGS"),
    includeServices: include.has("SERVICES"),
    dynamicExport: parseDynamicExport(read(env, VARIABLES.dynamicExport)),
    maxConcurrency: wholeNumber(env, "maxConcurrency"),
    maxAttempts: wholeNumber(env, "maxAttempts"),
    churnGuardPercent: wholeNumber(env, "churnGuardPercent"),
    fullDescribeMinutes: wholeNumber(env, "fullDescribeMinutes"),
  };
  const filter = parseFilterLabel(read(env, VARIABLES.filterLabel));
  if (filter) settings.filter = filter;
  return settings;
}

/** Discovery settings as a deployment states them; anything left out takes the function's default. */
export interface DiscoveryInput {
  clusters?: readonly string[];
  labels?: Partial<Record<LabelKey, string>>;
  /** `NAME` or `NAME=VALUE`. */
  filterLabel?: string;
  selectors?: readonly SelectorSetting[];
  /** What `INCLUDE` lists. */
  include?: readonly IncludeItem[];
  dynamicExport?: DynamicExportMode;
  maxConcurrency?: number;
  maxAttempts?: number;
  churnGuardPercent?: number;
  fullDescribeMinutes?: number;
}

/**
 * The inverse of readDiscoverySettings, for the CDK construct: the variables that make the function read
 * `input`. Checked with the very rules the function applies at cold start, so a bad setting fails the
 * synth instead of the deployed function; values the synth cannot know yet (`isUnknown`: a CDK token, such
 * as another construct's cluster name) are written unchecked, and the function checks them when it starts.
 */
export function discoveryEnvironment(
  input: DiscoveryInput,
  isUnknown: (value: string) => boolean = () => false,
): Record<string, string> {
  const env: Record<string, string> = {};
  if (input.clusters && input.clusters.length > 0) env[VARIABLES.clusters] = input.clusters.join(",");
  for (const [key, variable] of Object.entries(LABEL_VARIABLES) as [LabelKey, string][]) {
    const value = input.labels?.[key];
    if (value !== undefined) env[variable] = value;
  }
  if (input.filterLabel !== undefined) env[VARIABLES.filterLabel] = input.filterLabel;
  if (input.selectors && input.selectors.length > 0)
    env[VARIABLES.selectors] = JSON.stringify(input.selectors);
  if (input.include && input.include.length > 0)
    env[VARIABLES.include] = [...new Set(input.include)].join(",");
  if (input.dynamicExport !== undefined) env[VARIABLES.dynamicExport] = input.dynamicExport;
  for (const setting of Object.keys(NUMBER_SETTINGS) as NumberSetting[]) {
    const value = input[setting];
    if (value !== undefined) env[NUMBER_SETTINGS[setting].variable] = String(value);
  }
  readDiscoverySettings(Object.fromEntries(Object.entries(env).filter(([, value]) => !isUnknown(value))));
  return env;
}
