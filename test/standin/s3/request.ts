/** What an S3 request addresses (bucket, key, query) and how an answer is written back. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { S3Error } from "./errors.js";
import { errorXml } from "./xml.js";

export interface S3Request {
  method: string;
  /** Undefined for service-level calls (ListBuckets). */
  bucket: string | undefined;
  /** Undefined for bucket-level calls; may be any string S3 allows, `..` and `//` included, never normalised. */
  key: string | undefined;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  requestId: string;
  raw: IncomingMessage;
}

/** The virtual-host form `BUCKET.localhost[:port]`, which the SDK uses for a `localhost` endpoint. */
const VIRTUAL_HOST = /^(.+)\.localhost(?::\d+)?$/i;

/**
 * Reads the raw request target. `new URL()` would resolve `..` segments and merge nothing else, but S3 keys
 * may hold `..` and empty segments, so the path is split by hand and each part decoded once.
 */
export function parseRequest(raw: IncomingMessage, requestId: string): S3Request {
  const target = raw.url ?? "/";
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const query = new URLSearchParams(q < 0 ? "" : target.slice(q + 1));
  const decode = (text: string): string => {
    try {
      return decodeURIComponent(text);
    } catch {
      throw new S3Error(400, "InvalidURI", "Couldn't parse the specified URI.", { URI: target });
    }
  };
  const base = { method: raw.method ?? "GET", query, headers: raw.headers, requestId, raw };
  const virtual = VIRTUAL_HOST.exec(raw.headers.host ?? "");
  if (virtual?.[1]) {
    const key = path.slice(1);
    return { ...base, bucket: virtual[1], key: key === "" ? undefined : decode(key) };
  }
  const rest = path.slice(1);
  if (rest === "") return { ...base, bucket: undefined, key: undefined };
  const slash = rest.indexOf("/");
  if (slash < 0) return { ...base, bucket: decode(rest), key: undefined };
  const key = rest.slice(slash + 1);
  return { ...base, bucket: decode(rest.slice(0, slash)), key: key === "" ? undefined : decode(key) };
}

/** A single-valued header; S3 ignores repeats of the headers the stand-in reads. */
export function header(request: S3Request, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function send(
  res: ServerResponse,
  request: Pick<S3Request, "requestId">,
  status: number,
  headers: Record<string, string | number> = {},
  body?: string | Buffer,
): void {
  const all: Record<string, string | number> = {
    "x-amz-request-id": request.requestId,
    "x-amz-id-2": request.requestId,
    server: "AmazonS3",
    ...headers,
  };
  if (typeof body === "string") {
    all["content-type"] ??= "application/xml";
    all["content-length"] = Buffer.byteLength(body);
  } else if (body === undefined && all["content-length"] === undefined) {
    all["content-length"] = 0;
  }
  res.writeHead(status, all);
  res.end(body);
}

/** S3's error document; HEAD answers carry only the status, as on S3 (the SDK then names it by status). */
export function sendError(
  res: ServerResponse,
  request: Pick<S3Request, "requestId" | "method">,
  error: S3Error,
): void {
  if (request.method === "HEAD") send(res, request, error.status);
  else send(res, request, error.status, {}, errorXml(error, request.requestId));
}
