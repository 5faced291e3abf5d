/** The S3 side of the sync, behind a small interface so the sync loop can be tested without S3. */
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from "@aws-sdk/client-s3";
import { isNotFound, isNotModified } from "../lambda/shared/aws-errors.js";

export interface ListedObject {
  key: string;
  etag: string;
  size: number;
}

export type GetResult =
  | { status: "ok"; body: Uint8Array; etag: string | undefined }
  | { status: "not_modified" }
  | { status: "not_found" }
  | { status: "too_large"; size: number };

export interface GetOptions {
  ifNoneMatch: string | undefined;
  maxBytes: number;
  signal: AbortSignal;
}

export interface ObjectStore {
  /** Every object under `prefix`, all pages; throws unless the whole listing succeeded. */
  list(prefix: string, signal: AbortSignal): Promise<ListedObject[]>;
  /** One object's body, reading at most `maxBytes` (a larger object is reported, not read). */
  get(key: string, options: GetOptions): Promise<GetResult>;
}

export type S3Operation = "ListObjectsV2" | "GetObject";
export type RequestOutcome = "ok" | "not_modified" | "not_found" | "error";
export type RequestObserver = (operation: S3Operation, outcome: RequestOutcome) => void;

/** A client, or where to get the current one for each request (RegionalClients.clientFor). */
export type ClientSource = S3Client | (() => S3Client);

export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: ClientSource,
    private readonly bucket: string,
    private readonly observe: RequestObserver = () => {},
  ) {}

  private get s3(): S3Client {
    return typeof this.client === "function" ? this.client() : this.client;
  }

  async list(prefix: string, signal: AbortSignal): Promise<ListedObject[]> {
    const objects: ListedObject[] = [];
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.s3.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
          { abortSignal: signal },
        );
      } catch (error) {
        this.observe("ListObjectsV2", "error");
        throw error;
      }
      this.observe("ListObjectsV2", "ok");
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined) continue;
        objects.push({ key: item.Key, etag: item.ETag ?? "", size: item.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated && !token)
        throw new Error("ListObjectsV2 said the listing is truncated but gave no token");
    } while (token);
    return objects;
  }

  async get(key: string, { ifNoneMatch, maxBytes, signal }: GetOptions): Promise<GetResult> {
    let response: GetObjectCommandOutput;
    try {
      response = await this.s3.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, IfNoneMatch: ifNoneMatch || undefined }),
        { abortSignal: signal },
      );
    } catch (error) {
      // SDK v3 surfaces the 304 of a matching IfNoneMatch as an error, not as a response.
      if (isNotModified(error)) {
        this.observe("GetObject", "not_modified");
        return { status: "not_modified" };
      }
      if (isNotFound(error)) {
        this.observe("GetObject", "not_found");
        return { status: "not_found" };
      }
      this.observe("GetObject", "error");
      throw error;
    }
    this.observe("GetObject", "ok");
    const body = response.Body as unknown as
      | (AsyncIterable<Uint8Array> & { destroy?: () => void })
      | undefined;
    if (response.ContentLength !== undefined && response.ContentLength > maxBytes) {
      body?.destroy?.();
      return { status: "too_large", size: response.ContentLength };
    }
    const read = body ? await readBody(body, maxBytes, response.ContentLength) : Buffer.alloc(0);
    if (typeof read === "number") return { status: "too_large", size: read };
    return { status: "ok", body: read, etag: response.ETag };
  }
}

/**
 * The body's bytes, or the byte count at which it passed `maxBytes`. With a known length the chunks go
 * straight into one buffer of that size: collecting them and concatenating would hold the object twice.
 */
async function readBody(
  body: AsyncIterable<Uint8Array> & { destroy?: () => void },
  maxBytes: number,
  contentLength: number | undefined,
): Promise<Buffer | number> {
  const into = contentLength === undefined ? undefined : Buffer.allocUnsafe(contentLength);
  const chunks: Uint8Array[] = [];
  let filled = 0;
  let total = 0;
  for await (const chunk of body) {
    total += chunk.byteLength;
    if (total > maxBytes) {
      body.destroy?.();
      return total;
    }
    if (into && chunks.length === 0 && total <= into.length) {
      into.set(chunk, filled);
      filled = total;
    } else chunks.push(chunk);
  }
  if (!into) return Buffer.concat(chunks);
  if (chunks.length === 0 && filled === into.length) return into;
  // The length header was wrong: whatever arrived, as it arrived.
  return Buffer.concat([into.subarray(0, filled), ...chunks]);
}
