/** CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, ListObjectsV2 and ListBuckets. */
import type { ServerResponse } from "node:http";
import { invalidArgument, notImplemented, S3Error } from "./errors.js";
import { type S3Request, send } from "./request.js";
import type { S3Store } from "./store.js";
import { listBucketsXml, listObjectsV2Xml } from "./xml.js";

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const MAX_KEYS = 1000;
const TOKEN_TAG = "standin:";

export function createBucket(store: S3Store, request: S3Request, res: ServerResponse, bucket: string): void {
  if (!BUCKET_NAME.test(bucket) || bucket.includes("..")) {
    throw new S3Error(400, "InvalidBucketName", "The specified bucket is not valid.", { BucketName: bucket });
  }
  // In us-east-1, S3 answers 200 to the owner creating a bucket it already has (elsewhere 409
  // BucketAlreadyOwnedByYou); the stand-in is one region, us-east-1.
  store.createBucket(bucket);
  send(res, request, 200, { location: `/${bucket}` });
}

export function headBucket(store: S3Store, request: S3Request, res: ServerResponse, bucket: string): void {
  store.assertBucket(bucket);
  send(res, request, 200, { "x-amz-bucket-region": "us-east-1" });
}

export function deleteBucket(store: S3Store, request: S3Request, res: ServerResponse, bucket: string): void {
  store.deleteBucket(bucket);
  send(res, request, 204);
}

export function getBucketLocation(
  store: S3Store,
  request: S3Request,
  res: ServerResponse,
  bucket: string,
): void {
  store.assertBucket(bucket);
  // us-east-1 is the empty LocationConstraint.
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>';
  send(res, request, 200, {}, body);
}

export function listBuckets(store: S3Store, request: S3Request, res: ServerResponse): void {
  send(res, request, 200, {}, listBucketsXml(store.bucketNames()));
}

/** Continuation tokens are opaque to clients; this one carries the last key of the page. */
const tokenFor = (key: string): string => Buffer.from(`${TOKEN_TAG}${key}`, "utf8").toString("base64");

function keyOfToken(token: string): string {
  const text = Buffer.from(token, "base64").toString("utf8");
  if (!text.startsWith(TOKEN_TAG)) {
    throw invalidArgument("The continuation token provided is incorrect", "continuation-token", token);
  }
  return text.slice(TOKEN_TAG.length);
}

function maxKeysOf(raw: string | null): number {
  if (raw === null) return MAX_KEYS;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) {
    throw invalidArgument("Provided max-keys not an integer or within integer range", "max-keys", raw);
  }
  return Math.min(n, MAX_KEYS);
}

export function listObjectsV2(store: S3Store, request: S3Request, res: ServerResponse, bucket: string): void {
  const q = request.query;
  if (q.get("delimiter")) throw notImplemented("delimiter");
  const encoding = q.get("encoding-type");
  if (encoding !== null && encoding !== "url") {
    throw invalidArgument("Invalid Encoding Method specified in Request", "encoding-type", encoding);
  }
  const prefix = q.get("prefix") ?? "";
  const maxKeys = maxKeysOf(q.get("max-keys"));
  const continuationToken = q.get("continuation-token") ?? undefined;
  const startAfter = q.get("start-after") ?? undefined;
  // A continuation token takes over from start-after, which S3 still echoes.
  const after = continuationToken !== undefined ? keyOfToken(continuationToken) : (startAfter ?? "");
  const { objects, truncated } = store.list(bucket, { prefix, after, maxKeys });
  const last = objects.at(-1);
  const body = listObjectsV2Xml({
    bucket,
    prefix,
    maxKeys,
    objects,
    truncated,
    continuationToken,
    nextContinuationToken: truncated && last ? tokenFor(last.key) : undefined,
    startAfter,
    urlEncoded: encoding === "url",
  });
  send(res, request, 200, {}, body);
}
