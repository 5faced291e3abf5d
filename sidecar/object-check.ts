/**
 * Validation of one fetched object, and the compact form /targets serves, without ever holding the parsed
 * document. JSON.parse of a 2 MB object builds a tree of some tens of MB, and with a few objects in flight
 * that tree was most of the sidecar's peak memory. Here the top-level array is cut into its elements with
 * a byte scan, and each element is parsed, checked and re-serialized on its own, so only one group's
 * objects are alive at a time.
 *
 * The result is the reference's (validateFileSd in lambda/shared/file-sd.ts), never a second opinion: the
 * fast path answers only when the document is valid (a top-level array whose elements each parse and
 * pass targetGroupProblem is exactly a document JSON.parse accepts with those elements), and anything
 * else, including every bad object, goes to validateFileSd for its verdict, kind and reason.
 */
import { isUtf8 } from "node:buffer";
import {
  type ObjectErrorKind,
  type TargetGroup,
  targetGroupProblem,
  validateFileSd,
} from "../lambda/shared/file-sd.js";

export type ObjectCheck =
  | {
      ok: true;
      /**
       * The groups as `JSON.stringify(groups)` would write them, without the enclosing brackets: what
       * /targets joins with commas. Fields other than targets and labels cannot occur (they are refused).
       */
      compact: Buffer;
      groups: number;
      targets: number;
    }
  | { ok: false; kind: ObjectErrorKind; reason: string };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/** JSON's four whitespace bytes: what JSON.parse skips between tokens, and nothing else. */
function isJsonSpace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/** Validates `bytes` as a file_sd document; see the module comment for why it never parses it whole. */
export function checkObject(bytes: Uint8Array, maxBytes: number): ObjectCheck {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fast = bytes.byteLength <= maxBytes && isUtf8(buffer) ? checkElements(buffer) : undefined;
  if (fast !== undefined) return { ok: true, ...fast };
  const check = validateFileSd(bytes, maxBytes);
  if (!check.ok) return check;
  // Only a document the fast path could not read but the reference accepts lands here; in practice never.
  return {
    ok: true,
    compact: Buffer.from(JSON.stringify(check.groups).slice(1, -1)),
    groups: check.groups.length,
    targets: check.targetCount,
  };
}

const COMMA_BYTES = Buffer.from(",");

/** The compact groups of a valid document, or undefined for any doubt (the reference then decides). */
function checkElements(buffer: Buffer): { compact: Buffer; groups: number; targets: number } | undefined {
  const open = skipSpace(buffer, 0);
  if (buffer[open] !== OPEN_ARRAY) return undefined;
  const first = skipSpace(buffer, open + 1);
  if (buffer[first] === CLOSE_ARRAY) {
    return skipSpace(buffer, first + 1) === buffer.length
      ? { compact: Buffer.alloc(0), groups: 0, targets: 0 }
      : undefined;
  }
  const parts: Buffer[] = [];
  let length = 0;
  let groups = 0;
  let targets = 0;
  for (let start = open + 1; ; ) {
    const end = elementEnd(buffer, start);
    if (end === undefined) return undefined;
    // An empty slice (`[1,]`, `[,1]`) fails JSON.parse here, as it fails the whole document's parse.
    const group = parseGroup(buffer, start, end);
    if (group === undefined) return undefined;
    const line = Buffer.from(JSON.stringify(group));
    if (groups > 0) parts.push(COMMA_BYTES);
    parts.push(line);
    length += line.length + (groups > 0 ? 1 : 0);
    groups++;
    targets += group.targets.length;
    if (buffer[end] === CLOSE_ARRAY) {
      if (skipSpace(buffer, end + 1) !== buffer.length) return undefined;
      return { compact: Buffer.concat(parts, length), groups, targets };
    }
    start = end + 1;
  }
}

function skipSpace(buffer: Buffer, from: number): number {
  let at = from;
  while (at < buffer.length && isJsonSpace(buffer[at])) at++;
  return at;
}

/**
 * Where the top-level element starting at `from` ends: the index of the `,` or `]` that follows it at
 * depth zero, or undefined when the document ends first. Strings are skipped whole, so brackets and
 * commas inside label values do not count; whether the slice is JSON is JSON.parse's call.
 */
function elementEnd(buffer: Buffer, from: number): number | undefined {
  let depth = 0;
  let at = from;
  while (at < buffer.length) {
    const byte = buffer[at];
    if (byte === QUOTE) {
      const close = stringEnd(buffer, at + 1);
      if (close === undefined) return undefined;
      at = close + 1;
      continue;
    }
    if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) depth++;
    else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) {
      if (depth === 0) return byte === CLOSE_ARRAY ? at : undefined;
      depth--;
    } else if (byte === COMMA && depth === 0) return at;
    at++;
  }
  return undefined;
}

/** The index of the quote closing a string whose content starts at `from` (indexOf keeps it native). */
function stringEnd(buffer: Buffer, from: number): number | undefined {
  let at = from;
  for (;;) {
    const quote = buffer.indexOf(QUOTE, at);
    if (quote < 0) return undefined;
    let backslashes = 0;
    while (buffer[quote - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    at = quote + 1;
  }
}

/** One element as the group validateFileSdValue would keep, or undefined when it is not one. */
function parseGroup(buffer: Buffer, start: number, end: number): TargetGroup | undefined {
  let value: unknown;
  try {
    value = JSON.parse(buffer.toString("utf8", start, end));
  } catch {
    return undefined;
  }
  if (targetGroupProblem(value) !== undefined) return undefined;
  const group = value as TargetGroup;
  // The same copy validateFileSdValue makes, so the serialized form is the one /targets always served.
  const copy: TargetGroup = { targets: [...group.targets] };
  if (group.labels !== undefined) copy.labels = { ...group.labels };
  return copy;
}
