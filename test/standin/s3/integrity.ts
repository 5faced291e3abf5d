/**
 * Content-MD5 and the `x-amz-checksum-*` values of a PutObject, checked against the stored bytes as S3
 * checks them, so a body decoded wrongly (aws-chunked above all) fails loudly instead of being stored.
 */
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { S3Error } from "./errors.js";

const CHECKSUM_PREFIX = "x-amz-checksum-";

function crc32Base64(body: Buffer): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(body));
  return out.toString("base64");
}

const COMPUTE: Record<string, (body: Buffer) => string> = {
  crc32: crc32Base64,
  sha1: (body) => createHash("sha1").update(body).digest("base64"),
  sha256: (body) => createHash("sha256").update(body).digest("base64"),
  // crc32c and crc64nvme need tables Node.js does not ship; they are accepted as sent.
};

/** The checksum headers (and trailers) among `headers`, by full header name. */
export function checksumsOf(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const found: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!lower.startsWith(CHECKSUM_PREFIX) || typeof value !== "string") continue;
    // x-amz-checksum-algorithm names the algorithm and x-amz-checksum-type its kind; neither is a value.
    if (lower === "x-amz-checksum-algorithm" || lower === "x-amz-checksum-type") continue;
    found[lower] = value;
  }
  return found;
}

export function verifyIntegrity(
  body: Buffer,
  contentMd5: string | undefined,
  checksums: Record<string, string>,
): void {
  if (contentMd5 !== undefined) {
    const actual = createHash("md5").update(body).digest("base64");
    if (Buffer.from(contentMd5, "base64").byteLength !== 16) {
      throw new S3Error(400, "InvalidDigest", "The Content-MD5 you specified was invalid.");
    }
    if (actual !== contentMd5) {
      throw new S3Error(400, "BadDigest", "The Content-MD5 you specified did not match what we received.");
    }
  }
  for (const [header, value] of Object.entries(checksums)) {
    const algorithm = header.slice(CHECKSUM_PREFIX.length);
    const compute = COMPUTE[algorithm];
    if (compute && compute(body) !== value) {
      throw new S3Error(
        400,
        "BadDigest",
        `The ${algorithm.toUpperCase()} you specified did not match the calculated checksum.`,
      );
    }
  }
}
