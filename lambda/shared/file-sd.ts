/**
 * The file_sd contract between the discovery function (which writes) and the sidecar (which reads): the
 * target group, where each cluster's object lives, the local file name it becomes, what a valid document
 * is, and the one byte form it is written in. Both sides import this module and nothing else of each
 * other, so a change to the contract is one edit that both sides see.
 *
 * Dependency-free: Node.js built-ins only.
 */
import { isIPv4, isIPv6 } from "node:net";
import { isRecord } from "./values.js";

/** One Prometheus target group: `{"targets": ["host:port", ...], "labels": {"name": "value"}}`. */
export interface TargetGroup {
  targets: string[];
  labels?: Record<string, string>;
}

// ---- key layout ------------------------------------------------------------------------------------------

/** Where one cluster's objects live, independent of the medium. */
export interface ObjectRef {
  accountId: string;
  region: string;
  name: string;
}

export const DEFAULT_TARGETS_PREFIX = "targets/";

const ACCOUNT = "\\d{12}";
const REGION = "[a-z]{2}(?:-[a-z0-9]+)+-\\d{1,2}";
const CLUSTER = "[A-Za-z0-9_-]{1,255}";
const ACCOUNT_RE = new RegExp(`^${ACCOUNT}$`);
const REGION_RE = new RegExp(`^${REGION}$`);

/** ECS cluster names: 1-255 letters, digits, "_" and "-". */
const CLUSTER_NAME = new RegExp(`^${CLUSTER}$`);
const CLUSTER_FILE_RE = new RegExp(`^${CLUSTER}\\.json$`);

/** Local file names the sidecar may write (and, if it wrote them, remove). */
const OWNED_FILE_RE = new RegExp(`^${ACCOUNT}_${REGION}_${CLUSTER}\\.json$`);

/** Longest file name most filesystems accept (ext4, xfs, overlayfs): 255 bytes. */
const MAX_FILE_NAME_BYTES = 255;

/** `{prefix}{accountId}/{region}/{clusterName}.json`: one object per cluster, keyed by account and region. */
export function objectKey(prefix: string, ref: ObjectRef): string {
  return `${prefix}${ref.accountId}/${ref.region}/${ref.name}.json`;
}

/**
 * The flat local name of a cluster's object, `{accountId}_{region}_{clusterName}.json`, so Prometheus can
 * glob one directory. Injective: account ids and region names never contain `_`.
 */
export function flatFileName(ref: ObjectRef): string {
  return `${ref.accountId}_${ref.region}_${ref.name}.json`;
}

export type KeyMapping = { ok: true; fileName: string; ref: ObjectRef } | { ok: false; reason: string };

/**
 * The inverse of objectKey: the cluster an object key names and its flat file name, or why the key is
 * refused. Anything that does not have exactly the written shape is refused, so a refused key never
 * produces a file, and an accepted one is always one plain name.
 */
export function parseObjectKey(key: string, prefix: string): KeyMapping {
  if (!key.startsWith(prefix)) return { ok: false, reason: `key is not under the prefix "${prefix}"` };
  const rest = key.slice(prefix.length);
  if (rest.length === 0) return { ok: false, reason: "key is the prefix itself" };
  // Characters outside printable ASCII, and backslashes, are never written by the function and are the
  // usual vehicles of path tricks.
  if (/[^\x21-\x7e]/.test(rest) || rest.includes("\\")) {
    return { ok: false, reason: "key contains characters outside [A-Za-z0-9_./-]" };
  }
  if (rest.startsWith("/")) return { ok: false, reason: "key would be an absolute path" };
  const parts = rest.split("/");
  if (parts.some((p) => p === ".." || p === ".")) {
    return { ok: false, reason: "key contains a '.' or '..' path segment" };
  }
  if (/[^A-Za-z0-9_./-]/.test(rest)) {
    return { ok: false, reason: "key contains characters outside [A-Za-z0-9_./-]" };
  }
  if (parts.length !== 3) {
    return {
      ok: false,
      reason: `expected {accountId}/{region}/{clusterName}.json after the prefix, got ${parts.length} path segment(s)`,
    };
  }
  const [accountId, region, clusterFile] = parts as [string, string, string];
  if (!ACCOUNT_RE.test(accountId))
    return { ok: false, reason: `"${accountId}" is not a 12-digit account id` };
  if (!REGION_RE.test(region)) return { ok: false, reason: `"${region}" is not an AWS region name` };
  if (!clusterFile.endsWith(".json")) return { ok: false, reason: "object name does not end in .json" };
  if (!CLUSTER_FILE_RE.test(clusterFile)) {
    return { ok: false, reason: "cluster name must be 1-255 characters of [A-Za-z0-9_-]" };
  }
  const ref = { accountId, region, name: clusterFile.slice(0, -".json".length) };
  const fileName = flatFileName(ref);
  if (Buffer.byteLength(fileName) > MAX_FILE_NAME_BYTES) {
    return { ok: false, reason: `local file name would be longer than ${MAX_FILE_NAME_BYTES} bytes` };
  }
  // Whatever the checks above say, the result must be one plain name of the owned shape.
  if (!isOwnedFileName(fileName)) return { ok: false, reason: "key does not map to a valid file name" };
  return { ok: true, fileName, ref };
}

/** True when `name` is a plain file name of the flat shape (no directory part). */
export function isOwnedFileName(name: string): boolean {
  return (
    OWNED_FILE_RE.test(name) &&
    !name.includes("/") &&
    Buffer.byteLength(name) <= MAX_FILE_NAME_BYTES &&
    name !== "." &&
    name !== ".."
  );
}

/** Cluster names among flat file names of one account and region (the inverse of flatFileName). */
export function clusterNamesOfFiles(names: readonly string[], accountId: string, region: string): string[] {
  const prefix = `${accountId}_${region}_`;
  return names
    .filter((f) => f.startsWith(prefix) && f.endsWith(".json"))
    .map((f) => f.slice(prefix.length, -".json".length))
    .filter((name) => CLUSTER_NAME.test(name));
}

// ---- validation --------------------------------------------------------------------------------------------

export type ObjectErrorKind = "too_large" | "not_utf8" | "not_json" | "bad_shape";

export type FileSdValidation =
  | { ok: true; groups: TargetGroup[]; targetCount: number }
  | { ok: false; kind: ObjectErrorKind; reason: string };

/**
 * 64 MiB. A target with every label (INCLUDE=TAGS,SERVICES, a few tags each) takes about 2.5 KB, so this
 * holds some 25,000 targets in one cluster; a cluster of 5,000 tasks with tags is already 12 MB.
 */
export const DEFAULT_MAX_OBJECT_BYTES = 64 * 1024 * 1024;

const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const HOST_LABEL_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
const PORT_RE = /^[1-9][0-9]{0,4}$/;

function isValidLabelName(name: string): boolean {
  return LABEL_NAME_RE.test(name);
}

/** `host:port` with an IPv4 address, a DNS name or a bracketed IPv6 address, and a port 1-65535. */
export function isValidTarget(target: string): boolean {
  let host: string;
  let port: string;
  if (target.startsWith("[")) {
    const close = target.indexOf("]");
    if (close < 0 || target[close + 1] !== ":") return false;
    host = target.slice(1, close);
    port = target.slice(close + 2);
    if (!isIPv6(host)) return false;
  } else {
    const colon = target.lastIndexOf(":");
    if (colon <= 0) return false;
    host = target.slice(0, colon);
    port = target.slice(colon + 1);
    if (!isValidHost(host)) return false;
  }
  return PORT_RE.test(port) && Number(port) <= 65535;
}

function isValidHost(host: string): boolean {
  if (isIPv4(host)) return true;
  // Something that looks like a dotted number but is not a valid IPv4 address (999.1.1.1, 10.1) is refused.
  if (/^[0-9.]+$/.test(host)) return false;
  if (host.length > 253) return false;
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  return name.length > 0 && name.split(".").every((label) => HOST_LABEL_RE.test(label));
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Validates raw object bytes: size, UTF-8, JSON, then the file_sd shape. A byte order mark is refused
 * (the decoder keeps it, so JSON.parse fails): Prometheus would not parse such a file either.
 */
export function validateFileSd(
  bytes: Uint8Array,
  maxBytes: number = DEFAULT_MAX_OBJECT_BYTES,
): FileSdValidation {
  if (bytes.byteLength > maxBytes) {
    return { ok: false, kind: "too_large", reason: `object is ${bytes.byteLength} bytes, limit ${maxBytes}` };
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, kind: "not_utf8", reason: "object is not valid UTF-8" };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, kind: "not_json", reason: `object is not JSON: ${detail}` };
  }
  return validateFileSdValue(value);
}

/** Validates an already parsed value as a file_sd document. */
export function validateFileSdValue(value: unknown): FileSdValidation {
  if (!Array.isArray(value))
    return { ok: false, kind: "bad_shape", reason: "top level is not a JSON array of target groups" };
  const groups: TargetGroup[] = [];
  let targetCount = 0;
  for (const [i, entry] of value.entries()) {
    const problem = targetGroupProblem(entry, `[${i}]`);
    if (problem !== undefined) return { ok: false, kind: "bad_shape", reason: problem };
    const group = entry as TargetGroup;
    // A copy of exactly the fields read, so nothing else of the input is kept.
    const copy: TargetGroup = { targets: [...group.targets] };
    if (group.labels !== undefined) copy.labels = { ...group.labels };
    targetCount += copy.targets.length;
    groups.push(copy);
  }
  return { ok: true, groups, targetCount };
}

/**
 * What is wrong with one target group as the reader sees it (prefixed with `where`), or undefined when
 * nothing is. The writer holds every group it builds to this before publishing it.
 */
export function targetGroupProblem(group: unknown, where = "group"): string | undefined {
  if (!isRecord(group)) return `${where} is not an object`;
  for (const field of Object.keys(group)) {
    if (field !== "targets" && field !== "labels") return `${where} has an unexpected field "${field}"`;
  }
  const targets = group.targets;
  if (!Array.isArray(targets)) return `${where}.targets is missing or not an array`;
  for (const [j, target] of targets.entries()) {
    if (typeof target !== "string") return `${where}.targets[${j}] is not a string`;
    if (!isValidTarget(target)) return `${where}.targets[${j}] ${JSON.stringify(target)} is not host:port`;
  }
  const labels = group.labels;
  if (labels === undefined) return undefined;
  if (!isRecord(labels)) return `${where}.labels is not an object`;
  for (const name of Object.keys(labels)) {
    if (!isValidLabelName(name)) return `${where}.labels: ${JSON.stringify(name)} is not a valid label name`;
    if (typeof labels[name] !== "string") return `${where}.labels.${name} is not a string`;
  }
  return undefined;
}

// ---- the byte form ---------------------------------------------------------------------------------------

function sortedLabels(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(labels).sort()) out[key] = labels[key] as string;
  return out;
}

/** Targets and label keys sorted, as every group is written. */
export function normalizeGroup(group: TargetGroup): Required<TargetGroup> {
  return { targets: [...group.targets].sort(), labels: sortedLabels(group.labels ?? {}) };
}

/** A normalized group's line in the file. */
export function groupLine(group: TargetGroup): string {
  return JSON.stringify({ targets: group.targets, labels: group.labels });
}

/**
 * Sorted by line, exact duplicates dropped. Sorting by the line is sorting by targets, then labels:
 * both are serialized in that order, so this is a stable byte order.
 */
export function sortedUnique<G>(entries: { line: string; group: G }[]): { groups: G[]; lines: string[] } {
  entries.sort((a, b) => (a.line < b.line ? -1 : a.line > b.line ? 1 : 0));
  const groups: G[] = [];
  const lines: string[] = [];
  for (const { line, group } of entries) {
    if (line === lines[lines.length - 1]) continue;
    lines.push(line);
    groups.push(group);
  }
  return { groups, lines };
}

/**
 * The file from lines that are already sorted and unique: one group per line, compact for large fleets,
 * yet readable and diffable by an operator. Byte for byte the same for the same groups.
 */
export function serializeLines(lines: readonly string[]): string {
  if (lines.length === 0) return "[]\n";
  return `[\n${lines.join(",\n")}\n]\n`;
}

/** The file for any groups: normalized, sorted, deduplicated, one per line. */
export function serializeGroups(groups: TargetGroup[]): string {
  const entries = groups.map(normalizeGroup).map((group) => ({ line: groupLine(group), group }));
  return serializeLines(sortedUnique(entries).lines);
}
