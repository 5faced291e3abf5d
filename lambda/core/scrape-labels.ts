/**
 * The scrape endpoints a container asks for through its docker labels. Labels are typed by people, so
 * reading them is lenient where the old poller was (a path without "/", a server name with a trailing "/",
 * an empty job name, a port written "+9100"), and a bad label costs only what it names: a bad endpoint label
 * drops that endpoint, a bad setting is ignored, and everything else of the container is kept. Each problem
 * is reported once, with the label at fault and what was dropped and kept.
 */
import { isValidTarget } from "../shared/file-sd.js";
import type { LabelKey } from "../shared/settings.js";

/** The docker label names a container opts in with (the old poller's by default; see settings). */
export type LabelNames = Record<LabelKey, string>;

/**
 * One scrape endpoint a container asks for through its docker labels. `name` is "" for the unnamed
 * endpoint (`PROMETHEUS_EXPORTER_PORT`) and the suffix for `PROMETHEUS_EXPORTER_PORT.<name>`.
 */
export interface EndpointSpec {
  name: string;
  /** Container port; absent in dynamic-export mode, where the container's single host port is used. */
  port?: number;
  /** As written (trimmed): Prometheus adds the leading "/" itself when it is missing. */
  path?: string;
  scheme?: "http" | "https";
  job?: string;
  serverName?: string;
  interval?: string;
  timeout?: string;
}

export interface LabelProblem {
  label: string;
  /** What is wrong, and what was dropped and kept because of it. */
  message: string;
}

export interface ParsedEndpoints {
  /** The endpoints that survived; a bad label never takes the others with it. */
  endpoints: EndpointSpec[];
  problems: LabelProblem[];
}

// Prometheus durations: units from largest to smallest, each at most once.
const DURATION = /^(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?$/;
const UNIT_MS: Record<string, number> = {
  y: 365 * 86_400_000,
  w: 7 * 86_400_000,
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
};
const ENDPOINT_NAME = /^[A-Za-z0-9_-]{1,63}$/;

export function durationMs(value: string): number | undefined {
  if (value === "" || !DURATION.test(value)) return undefined;
  let total = 0;
  for (const part of value.match(/\d+(ms|[ywdhms])/g) ?? []) {
    const unit = part.endsWith("ms") ? "ms" : part.slice(-1);
    total += Number.parseInt(part, 10) * (UNIT_MS[unit] ?? 0);
  }
  return total > 0 ? total : undefined;
}

/**
 * A port as Go's strconv.Atoi (the old poller's reader) takes it — an optional sign, any number of leading
 * zeros — but only when it is a usable port, 1 to 65535. Surrounding white space is forgiven.
 */
export function parsePort(raw: string): number | undefined {
  const m = /^\+?0*(\d{1,5})$/.exec(raw.trim());
  if (!m) return undefined;
  const port = Number(m[1]);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/**
 * A host name, IPv4 or IPv6 address the file_sd contract accepts as a target's host, without a port: the
 * sidecar refuses a whole cluster's object for one bad target, so the contract is the measure.
 */
function isServerName(value: string): boolean {
  if (value === "" || value.includes("[") || value.includes("]")) return false;
  return isValidTarget(`${value.includes(":") ? `[${value}]` : value}:1`);
}

type Option = "path" | "scheme" | "jobName" | "serverName" | "interval" | "timeout";
const OPTIONS: Option[] = ["path", "scheme", "jobName", "serverName", "interval", "timeout"];
type Settings = Omit<EndpointSpec, "name" | "port">;
const FIELD: Record<Option, keyof Settings> = {
  path: "path",
  scheme: "scheme",
  jobName: "job",
  serverName: "serverName",
  interval: "interval",
  timeout: "timeout",
};
/** What an endpoint gets when a setting is not given at all. */
const UNSET: Record<Option, string> = {
  path: "Prometheus's default path",
  scheme: "the scrape config's scheme",
  jobName: "the scrape config's job",
  serverName: "the task's IP address",
  interval: "the scrape config's interval",
  timeout: "the scrape config's timeout",
};
const NOUN: Record<Option, string> = {
  path: "path",
  scheme: "scheme",
  jobName: "job name",
  serverName: "server name",
  interval: "interval",
  timeout: "timeout",
};

/** A label's value in a message: quoted, escaped, and cut short, since labels can be long. */
function quote(raw: string): string {
  return JSON.stringify(raw.length > 64 ? `${raw.slice(0, 64)}…` : raw);
}

/** One setting label read: its value, unset (empty, as the old poller treated it), or what is wrong. */
type SettingRead = { value: string } | { unset: true } | { problem: string };

function readSetting(option: Option, raw: string): SettingRead {
  const value = raw.trim();
  if (value === "") return { unset: true };
  const bad = (why: string): SettingRead => ({ problem: `${NOUN[option]} ${quote(raw)} ${why}` });
  switch (option) {
    case "path":
    case "jobName":
      return { value };
    case "scheme": {
      const scheme = value.toLowerCase();
      return scheme === "http" || scheme === "https" ? { value: scheme } : bad('is not "http" or "https"');
    }
    case "serverName": {
      const name = value.replace(/\/+$/, "");
      return isServerName(name) ? { value: name } : bad("is not a host name or IP address without a port");
    }
    case "interval":
    case "timeout":
      return durationMs(value) === undefined
        ? bad("is not a Prometheus duration such as 30s or 1m30s")
        : { value };
  }
}

function setField(settings: Settings, field: keyof Settings, value: string | undefined): void {
  if (value === undefined) delete settings[field];
  else (settings as Record<string, string>)[field] = value;
}

/** What an endpoint gets for `option` when its own label is ignored: the container's value, or the default. */
function fallback(option: Option, defaults: Settings, names: LabelNames): string {
  const value = defaults[FIELD[option]];
  return value === undefined ? UNSET[option] : `${NOUN[option]} ${value} from ${names[option]}`;
}

/**
 * Reads every setting label (`labelOf(option)`) the container carries into `settings`; a bad one is left
 * out and handed to `ignored`, which reports it.
 */
function readSettings(
  labels: Record<string, string>,
  settings: Settings,
  labelOf: (option: Option) => string,
  ignored: (option: Option, label: string, problem: string) => void,
): void {
  for (const option of OPTIONS) {
    const label = labelOf(option);
    const raw = labels[label];
    if (raw === undefined) continue;
    const read = readSetting(option, raw);
    if ("problem" in read) ignored(option, label, read.problem);
    else setField(settings, FIELD[option], "value" in read ? read.value : undefined);
  }
}

/** The unnamed settings: the defaults of every endpoint of the container. */
function readDefaults(labels: Record<string, string>, names: LabelNames, problems: LabelProblem[]): Settings {
  const defaults: Settings = {};
  readSettings(
    labels,
    defaults,
    (option) => names[option],
    (option, label, problem) =>
      problems.push({
        label,
        message: `${problem}: the setting is ignored; every endpoint of the container is kept, with ${UNSET[option]} unless it sets its own`,
      }),
  );
  if (timeoutTooLong(defaults)) {
    problems.push({
      label: names.timeout,
      message: `timeout ${defaults.timeout} is longer than the interval ${defaults.interval}, which Prometheus rejects: both ${names.interval} and ${names.timeout} are ignored; every endpoint of the container is kept, with the scrape config's interval and timeout unless it sets its own`,
    });
    delete defaults.interval;
    delete defaults.timeout;
  }
  return defaults;
}

function timeoutTooLong(settings: Settings): boolean {
  if (settings.interval === undefined || settings.timeout === undefined) return false;
  return (durationMs(settings.timeout) ?? 0) > (durationMs(settings.interval) ?? 0);
}

/** A named endpoint's settings: the defaults, overridden by its own `<option>.<name>` labels. */
function namedSettings(
  labels: Record<string, string>,
  names: LabelNames,
  name: string,
  defaults: Settings,
  problems: LabelProblem[],
): Settings {
  const settings: Settings = { ...defaults };
  readSettings(
    labels,
    settings,
    (option) => `${names[option]}.${name}`,
    (option, label, problem) =>
      problems.push({
        label,
        message: `${problem}: ignored for endpoint "${name}", which is kept, with ${fallback(option, defaults, names)}`,
      }),
  );
  if (timeoutTooLong(settings)) {
    // The container's own pair is consistent (readDefaults saw to it): the endpoint's overrides are at fault.
    const own = (["timeout", "interval"] as const)
      .filter((option) => settings[option] !== defaults[option])
      .map((option) => `${names[option]}.${name}`);
    problems.push({
      label: own[0] ?? names.timeout,
      message: `timeout ${settings.timeout} is longer than the interval ${settings.interval}, which Prometheus rejects: ${own.join(" and ")} ${own.length > 1 ? "are" : "is"} ignored for endpoint "${name}", which is kept, with ${describePair(defaults)}`,
    });
    setField(settings, "interval", defaults.interval);
    setField(settings, "timeout", defaults.timeout);
  }
  return settings;
}

function describePair(settings: Settings): string {
  const interval = settings.interval === undefined ? UNSET.interval : `interval ${settings.interval}`;
  const timeout = settings.timeout === undefined ? UNSET.timeout : `timeout ${settings.timeout}`;
  return `${interval} and ${timeout}`;
}

/** The truth of a flag label: 1/true, 0/false (or empty), or undefined when it is neither. */
function flagValue(raw: string): boolean | undefined {
  const value = raw.trim().toLowerCase();
  if (value === "1" || value === "true") return true;
  if (value === "0" || value === "false" || value === "") return false;
  return undefined;
}

/** An endpoint the labels ask for but that cannot be built: reported once the survivors are known. */
interface Dropped {
  label: string;
  why: string;
  what: string;
}

const PORT_RANGE = "is not a port number from 1 to 65535";

/**
 * The unnamed endpoint: the port label's, or (per-container mode, without a port label) the container's
 * single port when the dynamic-export label is set. With `dynamicExportOnly` (the old poller's global
 * dynamic mode) only the dynamic-export label counts and the port label is ignored, as there.
 */
function unnamedEndpoint(
  labels: Record<string, string>,
  names: LabelNames,
  dynamicExportOnly: boolean,
  dropped: Dropped[],
): { port?: number } | undefined {
  const portRaw = labels[names.port];
  if (portRaw !== undefined && !dynamicExportOnly) {
    const port = parsePort(portRaw);
    if (port !== undefined) return { port };
    dropped.push({
      label: names.port,
      why: `port ${quote(portRaw)} ${PORT_RANGE}`,
      what: "the unnamed endpoint",
    });
    return undefined;
  }
  const dynamicRaw = labels[names.dynamicExport];
  if (dynamicRaw === undefined) return undefined;
  const flag = flagValue(dynamicRaw);
  if (flag === undefined) {
    dropped.push({
      label: names.dynamicExport,
      why: `value ${quote(dynamicRaw)} is not 1, true, 0 or false`,
      what: "the dynamic-export endpoint",
    });
  }
  return flag ? {} : undefined;
}

/** The `PORT.<name>` endpoints, sorted by name; none in dynamic-export-only mode. */
function namedEndpoints(
  labels: Record<string, string>,
  names: LabelNames,
  defaults: Settings,
  problems: LabelProblem[],
  dropped: Dropped[],
): EndpointSpec[] {
  const endpoints: EndpointSpec[] = [];
  const portPrefix = `${names.port}.`;
  for (const label of Object.keys(labels).sort()) {
    if (!label.startsWith(portPrefix)) continue;
    const name = label.slice(portPrefix.length);
    const raw = labels[label] ?? "";
    if (!ENDPOINT_NAME.test(name)) {
      dropped.push({
        label,
        why: `endpoint name ${quote(name)} is not 1 to 63 letters, digits, "_" and "-"`,
        what: "this endpoint",
      });
      continue;
    }
    const port = parsePort(raw);
    if (port === undefined) {
      dropped.push({ label, why: `port ${quote(raw)} ${PORT_RANGE}`, what: `endpoint "${name}"` });
      continue;
    }
    endpoints.push({ ...namedSettings(labels, names, name, defaults, problems), name, port });
  }
  return endpoints;
}

function keptText(endpoints: EndpointSpec[]): string {
  if (endpoints.length === 0) return "no endpoint of the container is left";
  const kept = endpoints.map((e) => (e.name === "" ? "the unnamed endpoint" : `endpoint "${e.name}"`));
  return `kept: ${kept.join(", ")}`;
}

/**
 * Reads the scrape endpoints a container declares. Unnamed setting labels (path, scheme, job, server name,
 * interval, timeout) are the defaults of every named endpoint; `<option>.<name>` overrides them for one.
 * An empty setting label is no setting, as in the old poller (an empty `<option>.<name>` clears the
 * container's value for that endpoint).
 * `dynamicExportOnly` is `DYNAMIC_EXPORT=only`: only the dynamic-export label makes an endpoint.
 */
export function parseEndpoints(
  labels: Record<string, string>,
  names: LabelNames,
  dynamicExportOnly = false,
): ParsedEndpoints {
  const problems: LabelProblem[] = [];
  const dropped: Dropped[] = [];
  const defaults = readDefaults(labels, names, problems);
  const endpoints: EndpointSpec[] = [];
  const unnamed = unnamedEndpoint(labels, names, dynamicExportOnly, dropped);
  if (unnamed) endpoints.push({ ...defaults, name: "", ...unnamed });
  if (!dynamicExportOnly) endpoints.push(...namedEndpoints(labels, names, defaults, problems, dropped));
  for (const d of dropped) {
    problems.push({ label: d.label, message: `${d.why}: ${d.what} is dropped; ${keptText(endpoints)}` });
  }
  return { endpoints, problems };
}

/**
 * True when the container opts in under these rules, possibly with bad values (so that their warnings are
 * reported). A dynamic-export label set to 0 or false opts nothing in. With `dynamicExportOnly` only the
 * dynamic-export label counts.
 */
export function declaresEndpoints(
  labels: Record<string, string>,
  names: LabelNames,
  dynamicExportOnly = false,
): boolean {
  const dynamicRaw = labels[names.dynamicExport];
  if (dynamicRaw !== undefined && flagValue(dynamicRaw) !== false) return true;
  if (dynamicExportOnly) return false;
  if (labels[names.port] !== undefined) return true;
  const portPrefix = `${names.port}.`;
  return Object.keys(labels).some((label) => label.startsWith(portPrefix));
}
