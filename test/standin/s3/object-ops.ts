/** GetObject, HeadObject, PutObject and DeleteObject. */
import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import { decodeAwsChunked } from "./aws-chunked.js";
import { notImplemented, S3Error } from "./errors.js";
import { checksumsOf, verifyIntegrity } from "./integrity.js";
import { header, type S3Request, send } from "./request.js";
import { etagMatches, type S3Store, type StoredObject } from "./store.js";

/** Far below S3's 5 GB for one PUT: a test that sends more is broken, and memory is the limit here. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Query parameters an object call may carry besides its subresource, which the stand-in has none of. */
const PLAIN_QUERY = /^(x-id|X-Amz-.+|response-.+|x-purpose)$/;

export function checkObjectQuery(request: S3Request): void {
  for (const name of request.query.keys()) {
    if (!PLAIN_QUERY.test(name)) throw notImplemented(`the ?${name} subresource`);
  }
}

function parseDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : time;
}

/**
 * RFC 7232 as S3 applies it to GET and HEAD: If-Match wins over If-Unmodified-Since, If-None-Match over
 * If-Modified-Since; a failed If-Match is 412, a matching If-None-Match 304.
 */
function readCondition(request: S3Request, object: StoredObject): 200 | 304 | 412 {
  const modified = object.lastModified.getTime();
  const ifMatch = header(request, "if-match");
  if (ifMatch !== undefined) {
    if (!etagMatches(ifMatch, object.etag)) return 412;
  } else {
    const since = parseDate(header(request, "if-unmodified-since"));
    if (since !== undefined && modified > since) return 412;
  }
  const ifNoneMatch = header(request, "if-none-match");
  if (ifNoneMatch !== undefined) return etagMatches(ifNoneMatch, object.etag) ? 304 : 200;
  const since = parseDate(header(request, "if-modified-since"));
  return since !== undefined && modified <= since ? 304 : 200;
}

function objectHeaders(request: S3Request, object: StoredObject): Record<string, string | number> {
  const headers: Record<string, string | number> = {
    etag: object.etag,
    "last-modified": object.lastModified.toUTCString(),
    "content-type": request.query.get("response-content-type") ?? object.contentType,
    "content-length": object.body.byteLength,
    "accept-ranges": "bytes",
  };
  for (const [name, value] of Object.entries(object.metadata)) headers[`x-amz-meta-${name}`] = value;
  // S3 answers the checksum stored with the object only when asked; the SDK asks by default and checks the
  // body against it, so a body garbled on the way fails in the client instead of reaching the caller.
  if (
    header(request, "x-amz-checksum-mode")?.toUpperCase() === "ENABLED" &&
    Object.keys(object.checksums).length > 0
  ) {
    Object.assign(headers, object.checksums, { "x-amz-checksum-type": "FULL_OBJECT" });
  }
  return headers;
}

export function getObject(
  store: S3Store,
  request: S3Request,
  res: ServerResponse,
  bucket: string,
  key: string,
): void {
  const object = store.get(bucket, key);
  const condition = readCondition(request, object);
  if (condition === 412) {
    throw new S3Error(
      412,
      "PreconditionFailed",
      "At least one of the pre-conditions you specified did not hold",
      {
        Condition: header(request, "if-match") !== undefined ? "If-Match" : "If-Unmodified-Since",
      },
    );
  }
  if (condition === 304) {
    // A 304 carries the validators but no body and no Content-Length of the object.
    send(res, request, 304, { etag: object.etag, "last-modified": object.lastModified.toUTCString() });
    return;
  }
  const headers = objectHeaders(request, object);
  if (request.method === "HEAD") {
    res.writeHead(200, {
      "x-amz-request-id": request.requestId,
      "x-amz-id-2": request.requestId,
      ...headers,
    });
    res.end();
    return;
  }
  send(res, request, 200, headers, object.body);
}

function readBody(request: S3Request): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    request.raw.on("data", (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.raw.on("end", () => {
      if (total > MAX_BODY_BYTES) {
        reject(new S3Error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"));
      } else resolve(Buffer.concat(chunks));
    });
    request.raw.on("error", reject);
  });
}

/** The object's bytes and the checksums sent with them (headers, and trailers of an aws-chunked body). */
async function payloadOf(request: S3Request): Promise<{ body: Buffer; checksums: Record<string, string> }> {
  const raw = await readBody(request);
  const sha256 = header(request, "x-amz-content-sha256") ?? "";
  const chunked =
    (header(request, "content-encoding") ?? "").includes("aws-chunked") || sha256.startsWith("STREAMING-");
  const decoded = chunked ? decodeAwsChunked(raw) : { payload: raw, trailers: {} };
  const declared = header(request, "x-amz-decoded-content-length");
  if (chunked && declared !== undefined && Number(declared) !== decoded.payload.byteLength) {
    throw new S3Error(
      400,
      "IncompleteBody",
      "You did not provide the number of bytes specified by the Content-Length HTTP header",
    );
  }
  const trailer = header(request, "x-amz-trailer")?.toLowerCase();
  if (chunked && trailer !== undefined && decoded.trailers[trailer] === undefined) {
    throw new S3Error(
      400,
      "MalformedTrailerError",
      `The request declared the trailer ${trailer} but did not send it.`,
    );
  }
  if (/^[0-9a-f]{64}$/.test(sha256) && !chunked) {
    if (createHash("sha256").update(decoded.payload).digest("hex") !== sha256) {
      throw new S3Error(
        400,
        "XAmzContentSHA256Mismatch",
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
      );
    }
  }
  const checksums = { ...checksumsOf(request.headers), ...checksumsOf(decoded.trailers) };
  verifyIntegrity(decoded.payload, header(request, "content-md5"), checksums);
  return { body: decoded.payload, checksums };
}

function metadataOf(request: S3Request): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (name.startsWith("x-amz-meta-") && typeof value === "string") metadata[name.slice(11)] = value;
  }
  return metadata;
}

export async function putObject(
  store: S3Store,
  request: S3Request,
  res: ServerResponse,
  bucket: string,
  key: string,
): Promise<void> {
  if (header(request, "x-amz-copy-source") !== undefined) throw notImplemented("CopyObject");
  const ifNoneMatch = header(request, "if-none-match");
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== "*")
    throw notImplemented("If-None-Match other than *");
  // Fail before reading the body, as S3 does for a bucket that does not exist.
  store.assertBucket(bucket);
  const { body, checksums } = await payloadOf(request);
  // No await from here on: the condition check and the store are one step.
  const object = store.put(bucket, key, {
    body,
    contentType: header(request, "content-type"),
    metadata: metadataOf(request),
    checksums,
    ifMatch: header(request, "if-match"),
    ifNoneMatch,
  });
  send(res, request, 200, { etag: object.etag, ...object.checksums });
}

export function deleteObject(
  store: S3Store,
  request: S3Request,
  res: ServerResponse,
  bucket: string,
  key: string,
): void {
  store.delete(bucket, key);
  send(res, request, 204);
}
