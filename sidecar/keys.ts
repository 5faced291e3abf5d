/**
 * S3 key → local file name mapping.
 *
 * The discovery Lambda writes `{prefix}{accountId}/{region}/{clusterName}.json`; locally that becomes
 * `{accountId}_{region}_{clusterName}.json` (the names the engine's CLI writes with `--out-dir`), so
 * Prometheus can glob `DIR/*.json`. The mapping is injective (account ids and regions never contain `_`),
 * and anything that does not have exactly that shape is rejected: a rejected key never produces a file.
 */

const ACCOUNT = "\\d{12}";
const REGION = "[a-z]{2}(?:-[a-z0-9]+)+-\\d{1,2}";
const CLUSTER = "[A-Za-z0-9_-]{1,255}";

const ACCOUNT_RE = new RegExp(`^${ACCOUNT}$`);
const REGION_RE = new RegExp(`^${REGION}$`);
const CLUSTER_FILE_RE = new RegExp(`^${CLUSTER}\\.json$`);

/** File names this sidecar may write (and, if it wrote them, remove). */
export const OWNED_FILE_RE = new RegExp(`^${ACCOUNT}_${REGION}_${CLUSTER}\\.json$`);

/** Longest file name most filesystems accept (ext4, xfs, overlayfs): 255 bytes. */
export const MAX_FILE_NAME_BYTES = 255;

export type KeyMapping = { ok: true; fileName: string } | { ok: false; reason: string };

/** Maps an S3 key to its flattened local file name, or says why the key is refused. */
export function keyToFileName(key: string, prefix: string): KeyMapping {
  if (!key.startsWith(prefix)) return { ok: false, reason: `key is not under the prefix "${prefix}"` };
  const rest = key.slice(prefix.length);
  if (rest.length === 0) return { ok: false, reason: "key is the prefix itself" };
  // Every character outside the printable ASCII range, and backslashes, are refused outright: they are
  // never produced by the discovery Lambda and are the usual vehicles of path tricks.
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
  const [account, region, clusterFile] = parts as [string, string, string];
  if (!ACCOUNT_RE.test(account)) return { ok: false, reason: `"${account}" is not a 12-digit account id` };
  if (!REGION_RE.test(region)) return { ok: false, reason: `"${region}" is not an AWS region name` };
  if (!clusterFile.endsWith(".json")) return { ok: false, reason: "object name does not end in .json" };
  if (!CLUSTER_FILE_RE.test(clusterFile)) {
    return { ok: false, reason: "cluster name must be 1-255 characters of [A-Za-z0-9_-]" };
  }
  const fileName = `${account}_${region}_${clusterFile}`;
  if (Buffer.byteLength(fileName) > MAX_FILE_NAME_BYTES) {
    return { ok: false, reason: `local file name would be longer than ${MAX_FILE_NAME_BYTES} bytes` };
  }
  // Belt and braces: whatever the checks above say, the result must be one plain name we own.
  if (!isOwnedFileName(fileName)) return { ok: false, reason: "key does not map to a valid file name" };
  return { ok: true, fileName };
}

/** True when `name` is a plain file name of the shape this sidecar writes (no directory part). */
export function isOwnedFileName(name: string): boolean {
  return (
    OWNED_FILE_RE.test(name) &&
    !name.includes("/") &&
    Buffer.byteLength(name) <= MAX_FILE_NAME_BYTES &&
    name !== "." &&
    name !== ".."
  );
}
