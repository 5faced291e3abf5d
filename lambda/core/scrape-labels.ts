import { isIPv4 } from "node:net";
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
  path?: string;
  scheme?: "http" | "https";
  job?: string;
  serverName?: string;
  interval?: string;
  timeout?: string;
}

export interface LabelProblem {
  label: string;
  message: string;
}

export interface ParsedEndpoints {
  endpoints: EndpointSpec[];
  /** Malformed labels; when non-empty the container is skipped as a whole. */
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
// A host name or IPv4 address; the port is always the discovered one, so none may be given here.
const SERVER_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * Digits and dots only ("0", "10.1", "999.1.1.1") read as an address, so they must be a valid IPv4 one:
 * the sidecar (like most resolvers) refuses anything else, and would then reject the whole cluster's
 * object because of this one target.
 */
function isServerName(value: string): boolean {
  if (!SERVER_NAME.test(value)) return false;
  return !/^[0-9.]+$/.test(value) || isIPv4(value);
}

export function durationMs(value: string): number | undefined {
  if (value === "" || !DURATION.test(value)) return undefined;
  let total = 0;
  for (const part of value.match(/\d+(ms|[ywdhms])/g) ?? []) {
    const unit = part.endsWith("ms") ? "ms" : part.slice(-1);
    total += Number.parseInt(part, 10) * (UNIT_MS[unit] ?? 0);
  }
  return total > 0 ? total : undefined;
}

export function parsePort(raw: string): number | undefined {
  const value = raw.trim();
  if (!/^\d{1,5}$/.test(value)) return undefined;
  const port = Number(value);
  return port >= 1 && port <= 65535 ? port : undefined;
}

type Option = "path" | "scheme" | "jobName" | "serverName" | "interval" | "timeout";
const OPTIONS: Option[] = ["path", "scheme", "jobName", "serverName", "interval", "timeout"];

function applyOption(
  spec: EndpointSpec,
  option: Option,
  label: string,
  raw: string,
  problems: LabelProblem[],
): void {
  const value = raw.trim();
  switch (option) {
    case "path":
      if (!value.startsWith("/")) problems.push({ label, message: `path "${raw}" must start with "/"` });
      else spec.path = value;
      return;
    case "scheme": {
      const scheme = value.toLowerCase();
      if (scheme !== "http" && scheme !== "https") {
        problems.push({ label, message: `scheme "${raw}" must be "http" or "https"` });
      } else spec.scheme = scheme;
      return;
    }
    case "jobName":
      if (value === "") problems.push({ label, message: "job name is empty" });
      else spec.job = value;
      return;
    case "serverName":
      if (!isServerName(value)) {
        problems.push({
          label,
          message: `server name "${raw}" must be a host name or IPv4 address, without a port`,
        });
      } else spec.serverName = value;
      return;
    case "interval":
    case "timeout":
      if (durationMs(value) === undefined) {
        problems.push({
          label,
          message: `${option} "${raw}" is not a Prometheus duration such as 30s or 1m30s`,
        });
      } else spec[option] = value;
      return;
  }
}

function isTruthyFlag(raw: string): boolean | undefined {
  const value = raw.trim().toLowerCase();
  if (value === "1" || value === "true") return true;
  if (value === "0" || value === "false" || value === "") return false;
  return undefined;
}

/**
 * Reads the scrape endpoints a container declares. Unnamed option labels (path, scheme, job, server name,
 * interval, timeout) are the defaults of every named endpoint; `<option>.<name>` overrides them for one.
 */
export function parseEndpoints(labels: Record<string, string>, names: LabelNames): ParsedEndpoints {
  const problems: LabelProblem[] = [];
  const defaults: EndpointSpec = { name: "" };
  for (const option of OPTIONS) {
    const label = names[option];
    const raw = labels[label];
    if (raw !== undefined) applyOption(defaults, option, label, raw, problems);
  }

  const endpoints: EndpointSpec[] = [];
  const portRaw = labels[names.port];
  if (portRaw !== undefined) {
    const port = parsePort(portRaw);
    if (port === undefined)
      problems.push({ label: names.port, message: `port "${portRaw}" must be a number from 1 to 65535` });
    else endpoints.push({ ...defaults, port });
  } else {
    const dynamicRaw = labels[names.dynamicExport];
    if (dynamicRaw !== undefined) {
      const flag = isTruthyFlag(dynamicRaw);
      if (flag === undefined) {
        problems.push({
          label: names.dynamicExport,
          message: `value "${dynamicRaw}" must be 1, true, 0 or false`,
        });
      } else if (flag) endpoints.push({ ...defaults });
    }
  }

  const portPrefix = `${names.port}.`;
  for (const label of Object.keys(labels).sort()) {
    if (!label.startsWith(portPrefix)) continue;
    const name = label.slice(portPrefix.length);
    const raw = labels[label] ?? "";
    if (!ENDPOINT_NAME.test(name)) {
      problems.push({ label, message: `endpoint name "${name}" may only use letters, digits, "_" and "-"` });
      continue;
    }
    const port = parsePort(raw);
    if (port === undefined) {
      problems.push({ label, message: `port "${raw}" must be a number from 1 to 65535` });
      continue;
    }
    const spec: EndpointSpec = { ...defaults, name, port };
    for (const option of OPTIONS) {
      const optionLabel = `${names[option]}.${name}`;
      const optionRaw = labels[optionLabel];
      if (optionRaw !== undefined) applyOption(spec, option, optionLabel, optionRaw, problems);
    }
    endpoints.push(spec);
  }

  for (const spec of endpoints) {
    if (spec.interval !== undefined && spec.timeout !== undefined) {
      const interval = durationMs(spec.interval) ?? 0;
      const timeout = durationMs(spec.timeout) ?? 0;
      if (timeout > interval) {
        // Name the timeout label the container really carries: a named endpoint may inherit the unnamed one.
        const named = `${names.timeout}.${spec.name}`;
        const label = spec.name !== "" && labels[named] !== undefined ? named : names.timeout;
        problems.push({
          label,
          message: `timeout ${spec.timeout} is longer than the interval ${spec.interval}, which Prometheus rejects`,
        });
      }
    }
  }
  return { endpoints: problems.length > 0 ? [] : endpoints, problems };
}

/** True when the container declares any scrape label at all, i.e. opted in (possibly with bad values). */
export function declaresEndpoints(labels: Record<string, string>, names: LabelNames): boolean {
  if (labels[names.port] !== undefined || labels[names.dynamicExport] !== undefined) return true;
  const portPrefix = `${names.port}.`;
  return Object.keys(labels).some((label) => label.startsWith(portPrefix));
}
