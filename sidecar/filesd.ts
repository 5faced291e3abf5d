/**
 * Validation of Prometheus file_sd JSON, as the discovery Lambda writes it:
 * `[{"targets": ["host:port", ...], "labels": {"name": "value"}}, ...]`.
 */
import { isIPv4, isIPv6 } from "node:net";

export interface TargetGroup {
  targets: string[];
  labels?: Record<string, string>;
}

export type ObjectErrorKind = "too_large" | "not_utf8" | "not_json" | "bad_shape";

export type FileSdValidation =
  | { ok: true; groups: TargetGroup[]; targetCount: number }
  | { ok: false; kind: ObjectErrorKind; reason: string };

/** 10 MiB: far above a real cluster's file (a few hundred bytes per target). */
export const DEFAULT_MAX_OBJECT_BYTES = 10 * 1024 * 1024;

const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const HOST_LABEL_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
const PORT_RE = /^[1-9][0-9]{0,4}$/;

export function isValidLabelName(name: string): boolean {
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
 * (it is kept by the decoder, so JSON.parse fails): Prometheus would not parse such a file either.
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
  const bad = (reason: string): FileSdValidation => ({ ok: false, kind: "bad_shape", reason });
  if (!Array.isArray(value)) return bad("top level is not a JSON array of target groups");
  const groups: TargetGroup[] = [];
  let targetCount = 0;
  for (const [i, group] of value.entries()) {
    if (!isPlainObject(group)) return bad(`[${i}] is not an object`);
    for (const field of Object.keys(group)) {
      if (field !== "targets" && field !== "labels") return bad(`[${i}] has an unexpected field "${field}"`);
    }
    const targets = group.targets;
    if (!Array.isArray(targets)) return bad(`[${i}].targets is missing or not an array`);
    for (const [j, target] of targets.entries()) {
      if (typeof target !== "string") return bad(`[${i}].targets[${j}] is not a string`);
      if (!isValidTarget(target))
        return bad(`[${i}].targets[${j}] ${JSON.stringify(target)} is not host:port`);
    }
    const out: TargetGroup = { targets: [...(targets as string[])] };
    if (group.labels !== undefined) {
      const labels = group.labels;
      if (!isPlainObject(labels)) return bad(`[${i}].labels is not an object`);
      const copy: Record<string, string> = {};
      for (const [name, labelValue] of Object.entries(labels)) {
        if (!isValidLabelName(name))
          return bad(`[${i}].labels: ${JSON.stringify(name)} is not a valid label name`);
        if (typeof labelValue !== "string") return bad(`[${i}].labels.${name} is not a string`);
        copy[name] = labelValue;
      }
      out.labels = copy;
    }
    targetCount += out.targets.length;
    groups.push(out);
  }
  return { ok: true, groups, targetCount };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
