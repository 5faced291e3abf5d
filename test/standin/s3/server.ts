/**
 * The HTTP front of the S3 stand-in: S3's REST protocol (path style, and `BUCKET.localhost` virtual hosts)
 * for the real SDK's S3Client. Any credentials do: signatures are not checked, but a request must be
 * signed (an Authorization header or a presigned query), as S3 refuses anonymous calls to private buckets.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  createBucket,
  deleteBucket,
  getBucketLocation,
  headBucket,
  listBuckets,
  listObjectsV2,
} from "./bucket-ops.js";
import { notImplemented, S3Error } from "./errors.js";
import { checkObjectQuery, deleteObject, getObject, putObject } from "./object-ops.js";
import { parseRequest, type S3Request, sendError } from "./request.js";
import { S3Store } from "./store.js";

export interface S3StandInOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
}

export interface S3StandIn {
  /** `http://HOST:PORT`: the `endpoint` of an S3Client with `forcePathStyle: true`. */
  url: string;
  port: number;
  store: S3Store;
  /** Requests answered so far, by operation name (GetObject, PutObject, …). */
  counts(): Record<string, number>;
  /** Forgets every bucket and object, and the counts. */
  reset(): void;
  /** Environment for a child process using the standard SDK configuration. */
  env(): Record<string, string>;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

const isSigned = (request: S3Request): boolean =>
  request.headers.authorization !== undefined ||
  request.query.has("X-Amz-Signature") ||
  request.query.has("Signature");

type Route = { operation: string; run: () => void | Promise<void> };

function bucketRoute(store: S3Store, request: S3Request, res: ServerResponse, bucket: string): Route {
  const q = request.query;
  const subresources = [...q.keys()].filter((k) => k !== "x-id" && !k.startsWith("X-Amz-"));
  switch (request.method) {
    case "PUT":
      if (subresources.length === 0)
        return { operation: "CreateBucket", run: () => createBucket(store, request, res, bucket) };
      break;
    case "HEAD":
      return { operation: "HeadBucket", run: () => headBucket(store, request, res, bucket) };
    case "DELETE":
      if (subresources.length === 0)
        return { operation: "DeleteBucket", run: () => deleteBucket(store, request, res, bucket) };
      break;
    case "GET":
      if (q.get("list-type") === "2")
        return { operation: "ListObjectsV2", run: () => listObjectsV2(store, request, res, bucket) };
      if (q.has("location"))
        return { operation: "GetBucketLocation", run: () => getBucketLocation(store, request, res, bucket) };
      break;
  }
  // ListObjects (v1), DeleteObjects, bucket configuration: nothing in this project sends them.
  throw notImplemented(`${request.method} on a bucket with ?${subresources.join("&")}`);
}

function objectRoute(
  store: S3Store,
  request: S3Request,
  res: ServerResponse,
  bucket: string,
  key: string,
): Route {
  checkObjectQuery(request);
  switch (request.method) {
    case "GET":
      return { operation: "GetObject", run: () => getObject(store, request, res, bucket, key) };
    case "HEAD":
      return { operation: "HeadObject", run: () => getObject(store, request, res, bucket, key) };
    case "PUT":
      return { operation: "PutObject", run: () => putObject(store, request, res, bucket, key) };
    case "DELETE":
      return { operation: "DeleteObject", run: () => deleteObject(store, request, res, bucket, key) };
  }
  throw notImplemented(`${request.method} on an object`);
}

function route(store: S3Store, request: S3Request, res: ServerResponse): Route {
  const { bucket, key } = request;
  if (bucket === undefined) {
    if (request.method === "GET")
      return { operation: "ListBuckets", run: () => listBuckets(store, request, res) };
    throw notImplemented(`${request.method} /`);
  }
  return key === undefined
    ? bucketRoute(store, request, res, bucket)
    : objectRoute(store, request, res, bucket, key);
}

export async function startS3StandIn(options: S3StandInOptions = {}): Promise<S3StandIn> {
  const store = new S3Store();
  let counts: Record<string, number> = {};
  let nextId = 1;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = (nextId++).toString(16).toUpperCase().padStart(16, "0");
    let request: Pick<S3Request, "requestId" | "method"> = { requestId, method: req.method ?? "GET" };
    try {
      const parsed = parseRequest(req, requestId);
      request = parsed;
      if (!isSigned(parsed)) throw new S3Error(403, "AccessDenied", "Access Denied");
      const { operation, run } = route(store, parsed, res);
      counts[operation] = (counts[operation] ?? 0) + 1;
      await run();
    } catch (error) {
      if (!(error instanceof S3Error)) throw error;
      // Unread request bodies (a refused PUT) are drained so the connection can be reused.
      req.resume();
      sendError(res, request, error);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent || res.destroyed) return;
      sendError(
        res,
        { requestId: "0", method: req.method ?? "GET" },
        new S3Error(500, "InternalError", String(error)),
      );
    });
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  return {
    url,
    port,
    store,
    counts: () => ({ ...counts }),
    reset() {
      store.reset();
      counts = {};
    },
    env: () => ({
      AWS_ENDPOINT_URL_S3: url,
      AWS_ACCESS_KEY_ID: "standin",
      AWS_SECRET_ACCESS_KEY: "standin",
    }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
