/** Command line and environment → configuration. Flags win over environment variables. */
import { DEFAULT_MAX_OBJECT_BYTES, DEFAULT_TARGETS_PREFIX } from "../lambda/shared/file-sd.js";
import { isBucketName } from "../lambda/shared/output-settings.js";

/** One bucket to read: its name, and its region when given as `name@region`. */
export interface BucketSpec {
  name: string;
  region?: string;
}

export interface SidecarConfig {
  /** The buckets, in the order given: on a key two of them hold, the first one's object wins. */
  buckets: BucketSpec[];
  prefix: string;
  outDir: string;
  intervalMs: number;
  listen: { host: string; port: number } | undefined;
  once: boolean;
  maxObjectBytes: number;
  /** /readyz and the fresh gauge: stale after this many intervals without a successful sync. */
  freshnessIntervals: number;
  /** A sync still running after this long is aborted and counts as failed. */
  syncTimeoutMs: number;
  trustEmptyListing: boolean;
  help: boolean;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export const USAGE = `Usage: prometheus-ecs-discovery-sidecar --bucket B --out-dir DIR [options]

Copies the file_sd JSON objects the discovery Lambda writes to s3://B/PREFIX into DIR, atomically,
for Prometheus file_sd_configs (DIR/*.json); optionally serves them for http_sd_configs. Several
buckets (--bucket B1 --bucket B2, or --bucket B1,B2) share one DIR and one /targets.

Options (each also from an environment variable; a flag wins):
  --bucket B[@REGION]      S3 bucket (SIDECAR_BUCKET), required; repeat the flag or separate names with
                           commas to read several buckets into one directory (the first bucket wins a
                           key two hold); @REGION names the bucket's region (else learned from S3)
  --prefix P               key prefix (SIDECAR_PREFIX), default "${DEFAULT_TARGETS_PREFIX}"; "" for none
  --out-dir DIR            directory for the files (SIDECAR_OUT_DIR), required; created if missing
  --interval D             poll interval (SIDECAR_INTERVAL), default 5s, minimum 1s (e.g. 10s, 1m)
  --listen HOST:PORT       serve /targets, /metrics, /healthz, /readyz (SIDECAR_LISTEN), e.g. :9488
  --once                   one sync, then exit: 0 when it succeeded, 1 when not (SIDECAR_ONCE=true)
  --max-object-size N      largest object accepted (SIDECAR_MAX_OBJECT_SIZE), default 64MiB; B, KiB, MiB
  --freshness-intervals N  /readyz answers 503 (stale) after N intervals without a successful sync
                           (SIDECAR_FRESHNESS_INTERVALS), default 3; --health-intervals
                           (SIDECAR_HEALTH_INTERVALS) is the older name of the same setting
  --sync-timeout D         a sync running longer is aborted and counts as failed (SIDECAR_SYNC_TIMEOUT),
                           default 5m; /healthz (liveness) fails only when the poll loop is stuck beyond
                           it, never because S3 fails
  --trust-empty-listing    let an empty listing remove files even before any object was seen since start
                           (SIDECAR_TRUST_EMPTY_LISTING=true); off by default
  --help                   this text

Logs: one JSON object per line on stdout; SIDECAR_LOG_LEVEL=debug|info|warn|error (default info).
AWS: the standard SDK configuration (credential chain, AWS_REGION, AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3;
with an endpoint override, path-style addressing is used).
`;

/** `list`: the flag may be repeated, and its values (and its variable's) are comma-separated lists. */
type FlagSpec = { env: string; boolean?: boolean; list?: boolean };

const FLAGS: Record<string, FlagSpec> = {
  bucket: { env: "SIDECAR_BUCKET", list: true },
  prefix: { env: "SIDECAR_PREFIX" },
  "out-dir": { env: "SIDECAR_OUT_DIR" },
  interval: { env: "SIDECAR_INTERVAL" },
  listen: { env: "SIDECAR_LISTEN" },
  once: { env: "SIDECAR_ONCE", boolean: true },
  "max-object-size": { env: "SIDECAR_MAX_OBJECT_SIZE" },
  "freshness-intervals": { env: "SIDECAR_FRESHNESS_INTERVALS" },
  "health-intervals": { env: "SIDECAR_HEALTH_INTERVALS" },
  "sync-timeout": { env: "SIDECAR_SYNC_TIMEOUT" },
  "trust-empty-listing": { env: "SIDECAR_TRUST_EMPTY_LISTING", boolean: true },
  help: { env: "", boolean: true },
};

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Prometheus-style durations: 5s, 1m30s, 1500ms, 1h. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/.test(trimmed)) return undefined;
  let total = 0;
  for (const match of trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(match[1]) * (UNITS_MS[match[2] as string] ?? 0);
  }
  return total;
}

/** Sizes: 1048576, 512KiB, 10MiB, 1GiB (KB/MB/GB are read as the binary units too). */
export function parseSize(text: string): number | undefined {
  const match = /^(\d+)\s*(B|KiB|MiB|GiB|KB|MB|GB|K|M|G)?$/i.exec(text.trim());
  if (!match) return undefined;
  const unit = (match[2] ?? "B").toUpperCase()[0] as string;
  const factor = unit === "K" ? 1024 : unit === "M" ? 1024 ** 2 : unit === "G" ? 1024 ** 3 : 1;
  return Number(match[1]) * factor;
}

/** HOST:PORT, [IPv6]:PORT or :PORT (all IPv4 interfaces); port 0 picks a free one. */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port > 65535) return undefined;
  const host = match[1] ?? (match[2] || "0.0.0.0");
  return { host, port };
}

function parseBool(flag: string, text: string): boolean {
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off|)$/i.test(text)) return false;
  throw new ConfigError(`--${flag}: expected true or false, got ${JSON.stringify(text)}`);
}

/** What the command line says, before the environment is consulted. */
interface Argv {
  values: Map<string, string>;
  booleans: Map<string, boolean>;
  /** Every value of a repeatable flag, in order. */
  lists: Map<string, string[]>;
}

function readArgv(argv: string[]): Argv {
  const values = new Map<string, string>();
  const booleans = new Map<string, boolean>();
  const lists = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("--"))
      throw new ConfigError(`unexpected argument ${JSON.stringify(arg)} (flags start with --)`);
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = FLAGS[name];
    if (!spec) throw new ConfigError(`unknown flag --${name} (see --help)`);
    if (spec.boolean) {
      booleans.set(name, eq < 0 ? true : parseBool(name, arg.slice(eq + 1)));
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined || (value.startsWith("--") && value.length > 2)) {
        throw new ConfigError(`--${name} needs a value`);
      }
      i++;
    }
    values.set(name, value);
    if (spec.list) lists.set(name, [...(lists.get(name) ?? []), value]);
  }
  return { values, booleans, lists };
}

/** Each setting from its flag, else from its environment variable. */
class Settings {
  constructor(
    private readonly argv: Argv,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  get(name: string): string | undefined {
    const fromFlag = this.argv.values.get(name);
    if (fromFlag !== undefined) return fromFlag;
    const envName = FLAGS[name]?.env;
    return envName ? this.env[envName] : undefined;
  }

  bool(name: string): boolean {
    const fromFlag = this.argv.booleans.get(name);
    if (fromFlag !== undefined) return fromFlag;
    const envName = FLAGS[name]?.env;
    const raw = envName ? this.env[envName] : undefined;
    return raw === undefined ? false : parseBool(`${name} (from ${envName})`, raw);
  }

  /** A list setting: every flag value, else the variable's, split at commas; blanks trimmed. */
  list(name: string): string[] {
    const fromFlags = this.argv.lists.get(name);
    const envName = FLAGS[name]?.env;
    const raw = fromFlags ?? (envName && this.env[envName] !== undefined ? [this.env[envName]] : []);
    return raw.flatMap((value) => value.split(",")).map((item) => item.trim());
  }

  hasFlag(name: string): boolean {
    return this.argv.values.has(name);
  }

  /** How to name a setting in an error: the flag, and the environment variable when the value came from it. */
  label(name: string): string {
    return this.argv.values.has(name) ? `--${name}` : `--${name} (from ${FLAGS[name]?.env ?? "?"})`;
  }
}

const REGION_NAME = /^[a-z]{2}(?:-[a-z0-9]+)+-\d{1,2}$/;

/** `name` or `name@region`, checked. */
function bucketSpec(text: string, label: string): BucketSpec {
  const at = text.indexOf("@");
  const name = at < 0 ? text : text.slice(0, at);
  const region = at < 0 ? undefined : text.slice(at + 1);
  if (!isBucketName(name)) {
    throw new ConfigError(`${label}: ${JSON.stringify(name)} is not a valid S3 bucket name`);
  }
  if (region !== undefined && !REGION_NAME.test(region)) {
    throw new ConfigError(
      `${label}: ${JSON.stringify(region)} in ${JSON.stringify(text)} is not an AWS region (e.g. eu-west-1)`,
    );
  }
  return region === undefined ? { name } : { name, region };
}

/** --bucket, repeated or comma-separated: at least one, each valid, none twice. */
function bucketsSetting(settings: Settings): BucketSpec[] {
  const items = settings.list("bucket");
  if (items.length === 0 || (items.length === 1 && items[0] === "")) {
    throw new ConfigError("--bucket is required (or SIDECAR_BUCKET)");
  }
  const label = settings.label("bucket");
  const buckets: BucketSpec[] = [];
  for (const item of items) {
    if (item === "") throw new ConfigError(`${label}: an empty bucket name in the list (a stray comma?)`);
    const spec = bucketSpec(item, label);
    if (buckets.some((b) => b.name === spec.name)) {
      throw new ConfigError(`${label}: bucket ${JSON.stringify(spec.name)} is named twice`);
    }
    buckets.push(spec);
  }
  return buckets;
}

function checkLocation(outDir: string, prefix: string): void {
  if (!outDir) throw new ConfigError("--out-dir is required (or SIDECAR_OUT_DIR)");
  if (Buffer.byteLength(prefix) > 900) throw new ConfigError("--prefix: longer than 900 bytes");
}

/** A duration setting of at least 1s and at most `max`. */
function durationSetting(settings: Settings, name: string, fallback: number, max: [number, string]): number {
  const text = settings.get(name);
  if (text === undefined) return fallback;
  const label = settings.label(name);
  const ms = parseDuration(text);
  if (ms === undefined) {
    throw new ConfigError(`${label}: ${JSON.stringify(text)} is not a duration (e.g. 5s, 30s, 1m)`);
  }
  if (ms < 1000) throw new ConfigError(`${label}: ${text} is shorter than the 1s minimum`);
  if (ms > max[0]) throw new ConfigError(`${label}: ${text} is longer than ${max[1]}`);
  return ms;
}

function listenSetting(settings: Settings): SidecarConfig["listen"] {
  const listen = settings.get("listen");
  if (listen === undefined || listen === "") return undefined;
  const parsed = parseListen(listen);
  if (!parsed) {
    throw new ConfigError(
      `${settings.label("listen")}: ${JSON.stringify(listen)} is not HOST:PORT (e.g. 0.0.0.0:9488)`,
    );
  }
  return parsed;
}

function sizeSetting(settings: Settings, fallback: number): number {
  const size = settings.get("max-object-size");
  if (size === undefined) return fallback;
  const bytes = parseSize(size);
  if (bytes === undefined || bytes < 2) {
    throw new ConfigError(
      `${settings.label("max-object-size")}: ${JSON.stringify(size)} is not a size (e.g. 10MiB, 1048576)`,
    );
  }
  return bytes;
}

/**
 * --freshness-intervals, or its older name --health-intervals. A flag of either name wins over the
 * environment; two values from the same place must agree.
 */
function freshnessSetting(settings: Settings, fallback: number): number {
  const names = ["freshness-intervals", "health-intervals"];
  const flagged = names.filter((name) => settings.hasFlag(name));
  const given = flagged.length > 0 ? flagged : names.filter((name) => settings.get(name) !== undefined);
  const values = given.map((name) => {
    const text = settings.get(name) ?? "";
    if (!/^[1-9]\d{0,3}$/.test(text)) {
      throw new ConfigError(`${settings.label(name)}: ${JSON.stringify(text)} is not a whole number 1-9999`);
    }
    return Number(text);
  });
  const [first, second] = values;
  if (first !== undefined && second !== undefined && first !== second) {
    throw new ConfigError(
      `${settings.label("freshness-intervals")} is ${first} but ${settings.label("health-intervals")}, ` +
        `its older name, is ${second}: set one`,
    );
  }
  return first ?? fallback;
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): SidecarConfig {
  const settings = new Settings(readArgv(argv), env);
  const help = settings.bool("help");
  const config: SidecarConfig = {
    buckets: [],
    prefix: settings.get("prefix") ?? DEFAULT_TARGETS_PREFIX,
    outDir: settings.get("out-dir") ?? "",
    intervalMs: 5000,
    listen: undefined,
    once: settings.bool("once"),
    maxObjectBytes: DEFAULT_MAX_OBJECT_BYTES,
    freshnessIntervals: 3,
    syncTimeoutMs: 5 * 60_000,
    trustEmptyListing: settings.bool("trust-empty-listing"),
    help,
  };
  if (help) return config;

  config.buckets = bucketsSetting(settings);
  checkLocation(config.outDir, config.prefix);
  config.intervalMs = durationSetting(settings, "interval", config.intervalMs, [24 * 3_600_000, "24h"]);
  config.syncTimeoutMs = durationSetting(settings, "sync-timeout", config.syncTimeoutMs, [3_600_000, "1h"]);
  config.listen = listenSetting(settings);
  config.maxObjectBytes = sizeSetting(settings, config.maxObjectBytes);
  config.freshnessIntervals = freshnessSetting(settings, config.freshnessIntervals);
  return config;
}
