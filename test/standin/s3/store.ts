/**
 * The buckets and objects of the S3 stand-in, in memory. Every method is synchronous: a conditional write
 * checks and stores with no await in between, so concurrent conditional writes to one key have exactly
 * one winner, as on S3.
 */
import { createHash } from "node:crypto";
import { S3Error } from "./errors.js";

export interface StoredObject {
  key: string;
  body: Buffer;
  /** Quoted MD5 hex of the body, as S3 gives it for a single-part upload. */
  etag: string;
  /** Whole seconds: S3's Last-Modified header cannot say more, and the listing must agree with it. */
  lastModified: Date;
  contentType: string;
  /** `x-amz-meta-*` headers, names lower-cased without the prefix. */
  metadata: Record<string, string>;
  /** Checksums the writer sent (header name → value), answered back on PutObject. */
  checksums: Record<string, string>;
}

export interface PutInput {
  body: Buffer;
  contentType?: string | undefined;
  metadata?: Record<string, string>;
  checksums?: Record<string, string>;
  /** The If-Match header: store only over an object with this ETag. */
  ifMatch?: string | undefined;
  /** The If-None-Match header; S3 accepts only `*` on writes: store only when the key is free. */
  ifNoneMatch?: string | undefined;
}

export interface ListInput {
  prefix: string;
  /** List keys strictly after this one (from start-after or a continuation token). */
  after: string;
  maxKeys: number;
}

export interface ListOutput {
  objects: StoredObject[];
  truncated: boolean;
}

class Bucket {
  readonly objects = new Map<string, StoredObject>();
  readonly created = new Date();
  private sorted: string[] | undefined;

  /** Keys in UTF-8 byte order, as S3 lists them; kept until a key is added or removed. */
  keys(): string[] {
    this.sorted ??= [...this.objects.keys()].sort(compareUtf8);
    return this.sorted;
  }

  set(object: StoredObject): void {
    if (!this.objects.has(object.key)) this.sorted = undefined;
    this.objects.set(object.key, object);
  }

  delete(key: string): void {
    if (this.objects.delete(key)) this.sorted = undefined;
  }
}

/**
 * Code point order is UTF-8 byte order; plain `<` on JS strings compares UTF-16 units, which puts
 * U+E000..U+FFFF after the astral planes, unlike S3.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) ?? 0;
    const y = b.codePointAt(i) ?? 0;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/** `"abc"`, `abc`, `W/"abc"` and `*` in an If-Match / If-None-Match list, as S3 compares them. */
export function etagMatches(header: string, etag: string): boolean {
  const bare = (value: string) => value.trim().replace(/^W\//, "").replace(/^"|"$/g, "");
  const want = bare(etag);
  return header.split(",").some((candidate) => candidate.trim() === "*" || bare(candidate) === want);
}

export function md5Etag(body: Buffer): string {
  return `"${createHash("md5").update(body).digest("hex")}"`;
}

export class S3Store {
  private buckets = new Map<string, Bucket>();

  reset(): void {
    this.buckets = new Map();
  }

  bucketNames(): { name: string; created: Date }[] {
    return [...this.buckets.entries()]
      .sort(([a], [b]) => compareUtf8(a, b))
      .map(([name, bucket]) => ({ name, created: bucket.created }));
  }

  hasBucket(name: string): boolean {
    return this.buckets.has(name);
  }

  /** Throws NoSuchBucket unless the bucket exists. */
  assertBucket(name: string): void {
    this.bucket(name);
  }

  /** False when the bucket already existed. */
  createBucket(name: string): boolean {
    if (this.buckets.has(name)) return false;
    this.buckets.set(name, new Bucket());
    return true;
  }

  deleteBucket(name: string): void {
    const bucket = this.bucket(name);
    if (bucket.objects.size > 0) {
      throw new S3Error(409, "BucketNotEmpty", "The bucket you tried to delete is not empty", {
        BucketName: name,
      });
    }
    this.buckets.delete(name);
  }

  get(bucketName: string, key: string): StoredObject {
    const object = this.bucket(bucketName).objects.get(key);
    if (!object) throw new S3Error(404, "NoSuchKey", "The specified key does not exist.", { Key: key });
    return object;
  }

  put(bucketName: string, key: string, input: PutInput): StoredObject {
    const bucket = this.bucket(bucketName);
    const existing = bucket.objects.get(key);
    if (input.ifMatch !== undefined) {
      // S3 answers a missing key with 404, not 412: there is no ETag to compare with.
      if (!existing) throw new S3Error(404, "NoSuchKey", "The specified key does not exist.", { Key: key });
      if (!etagMatches(input.ifMatch, existing.etag)) throw preconditionFailed("If-Match");
    }
    if (input.ifNoneMatch !== undefined && existing) throw preconditionFailed("If-None-Match");
    const object: StoredObject = {
      key,
      body: input.body,
      etag: md5Etag(input.body),
      lastModified: new Date(Math.floor(Date.now() / 1000) * 1000),
      contentType: input.contentType ?? "binary/octet-stream",
      metadata: input.metadata ?? {},
      checksums: input.checksums ?? {},
    };
    bucket.set(object);
    return object;
  }

  /** Deleting a missing key succeeds, as on S3. */
  delete(bucketName: string, key: string): void {
    this.bucket(bucketName).delete(key);
  }

  list(bucketName: string, { prefix, after, maxKeys }: ListInput): ListOutput {
    const bucket = this.bucket(bucketName);
    const keys = bucket.keys();
    let at = lowerBound(keys, after);
    if (at < keys.length && keys[at] === after) at++;
    if (compareUtf8(prefix, after) > 0) at = Math.max(at, lowerBound(keys, prefix));
    const objects: StoredObject[] = [];
    if (maxKeys === 0) return { objects, truncated: false };
    for (; at < keys.length; at++) {
      const key = keys[at] ?? "";
      if (!key.startsWith(prefix)) break;
      if (objects.length === maxKeys) return { objects, truncated: true };
      const object = bucket.objects.get(key);
      if (object) objects.push(object);
    }
    return { objects, truncated: false };
  }

  private bucket(name: string): Bucket {
    const bucket = this.buckets.get(name);
    if (!bucket) {
      throw new S3Error(404, "NoSuchBucket", "The specified bucket does not exist", { BucketName: name });
    }
    return bucket;
  }
}

function preconditionFailed(condition: string): S3Error {
  return new S3Error(
    412,
    "PreconditionFailed",
    "At least one of the pre-conditions you specified did not hold",
    {
      Condition: condition,
    },
  );
}

/** The first index whose key is not below `key`. */
function lowerBound(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareUtf8(keys[mid] ?? "", key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
