/**
 * What the project relies on from S3, proved with the real SDK client against `startS3()`: the Node.js
 * stand-in in `npm test`, moto in `npm run test:moto`. Each behaviour here is one the function
 * (lambda/publish/s3-output.ts) or the sidecar (sidecar/store.ts) depends on.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  paginateListObjectsV2,
  type S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { isNotFound, isNotModified, isWriteConflict } from "../../lambda/shared/aws-errors.js";
import { type S3Server, s3Client, s3Kind, startS3 } from "../support/s3.js";

const BUCKET = "contract-bucket";
let server: S3Server;
let s3: S3Client;

const md5 = (body: string | Buffer) => `"${createHash("md5").update(body).digest("hex")}"`;

/** The SDK error of a call that must fail, for its name and status. */
async function failure(call: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await call;
  } catch (error) {
    const e = error as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode };
  }
  throw new Error("the call succeeded");
}

const put = (Key: string, Body: string | Uint8Array, extra: Partial<PutObjectCommand["input"]> = {}) =>
  s3.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body, ...extra }));
const get = (Key: string, extra: Partial<GetObjectCommand["input"]> = {}) =>
  s3.send(new GetObjectCommand({ Bucket: BUCKET, Key, ...extra }));
const text = async (Key: string) => (await (await get(Key)).Body?.transformToString("utf-8")) ?? "";

beforeAll(async () => {
  server = await startS3();
  s3 = s3Client(server.url);
});

afterAll(async () => {
  s3?.destroy();
  await server?.stop();
});

beforeEach(async () => {
  await server.reset();
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

describe(`S3 contract (${s3Kind()})`, () => {
  it("HeadBucket finds the bucket; a missing bucket is NoSuchBucket for object calls", async () => {
    expect((await s3.send(new HeadBucketCommand({ Bucket: BUCKET }))).$metadata.httpStatusCode).toBe(200);
    expect(await failure(s3.send(new HeadBucketCommand({ Bucket: "no-such-bucket" })))).toMatchObject({
      status: 404,
    });
    const noBucket = { Bucket: "no-such-bucket", Key: "k" };
    expect(await failure(s3.send(new GetObjectCommand(noBucket)))).toEqual({
      name: "NoSuchBucket",
      status: 404,
    });
    expect(await failure(s3.send(new PutObjectCommand({ ...noBucket, Body: "x" })))).toEqual({
      name: "NoSuchBucket",
      status: 404,
    });
    expect(await failure(s3.send(new ListObjectsV2Command({ Bucket: "no-such-bucket" })))).toEqual({
      name: "NoSuchBucket",
      status: 404,
    });
  });

  it("PutObject's ETag is the quoted MD5 of the body; GetObject returns it with the body and headers", async () => {
    const body = '[{"targets":["10.0.0.1:9100"],"labels":{"job":"a"}}]';
    const written = await put("targets/a.json", body, { ContentType: "application/json" });
    expect(written.ETag).toBe(md5(body));
    const got = await get("targets/a.json");
    expect(await got.Body?.transformToString("utf-8")).toBe(body);
    expect(got.ETag).toBe(md5(body));
    expect(got.ContentType).toBe("application/json");
    expect(got.ContentLength).toBe(Buffer.byteLength(body));
    expect(got.LastModified).toBeInstanceOf(Date);
    expect(Math.abs((got.LastModified?.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
  });

  it("HeadObject gives the same ETag and length without a body; a missing key is 404", async () => {
    await put("k.json", "12345");
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "k.json" }));
    expect(head).toMatchObject({ ETag: md5("12345"), ContentLength: 5 });
    const missing = s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: "missing.json" }));
    expect(await failure(missing)).toMatchObject({ status: 404 });
  });

  it("GetObject of a missing key is NoSuchKey (404), which the project reads as not found", async () => {
    const error = await get("missing.json").catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "NoSuchKey", $metadata: { httpStatusCode: 404 } });
    expect(isNotFound(error)).toBe(true);
  });

  it("conditional GET: a matching If-None-Match is 304, a different one returns the object, a stale If-Match 412", async () => {
    const { ETag } = await put("k.json", "v1");
    // The SDK surfaces the 304 as an exception (named Unknown): its status is what tells.
    const notModified = await get("k.json", { IfNoneMatch: ETag }).catch((e: unknown) => e);
    expect(notModified).toMatchObject({ $metadata: { httpStatusCode: 304 } });
    expect(isNotModified(notModified)).toBe(true);
    const changed = await get("k.json", { IfNoneMatch: md5("v0") });
    expect(await changed.Body?.transformToString()).toBe("v1");
    expect(await failure(get("k.json", { IfMatch: md5("v0") }))).toEqual({
      name: "PreconditionFailed",
      status: 412,
    });
    expect((await get("k.json", { IfMatch: ETag })).ETag).toBe(ETag);
  });

  it("PutObject If-None-Match: * creates once; over an existing key it is 412 and changes nothing", async () => {
    expect((await put("k.json", "first", { IfNoneMatch: "*" })).ETag).toBe(md5("first"));
    const error = await put("k.json", "second", { IfNoneMatch: "*" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "PreconditionFailed", $metadata: { httpStatusCode: 412 } });
    expect(isWriteConflict(error)).toBe(true);
    expect(await text("k.json")).toBe("first");
  });

  it("PutObject If-Match: the current ETag replaces, a stale one is 412, a missing key 404 NoSuchKey", async () => {
    const first = await put("k.json", "v1");
    const second = await put("k.json", "v2", { IfMatch: first.ETag });
    expect(second.ETag).toBe(md5("v2"));
    const stale = await put("k.json", "v3", { IfMatch: first.ETag }).catch((e: unknown) => e);
    expect(stale).toMatchObject({ name: "PreconditionFailed", $metadata: { httpStatusCode: 412 } });
    expect(isWriteConflict(stale)).toBe(true);
    expect(await text("k.json")).toBe("v2");
    // S3 has no ETag to compare for a missing key and says so with 404, not 412.
    expect(await failure(put("gone.json", "v1", { IfMatch: first.ETag }))).toEqual({
      name: "NoSuchKey",
      status: 404,
    });
  });

  it("20 concurrent conditional writes to one key: one winner, every other writer 412", async () => {
    const race = async (write: (i: number) => Promise<unknown>) => {
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => write(i)));
      const winners = results.filter((r) => r.status === "fulfilled").length;
      const losers = results.filter((r) => r.status === "rejected").map((r) => isWriteConflict(r.reason));
      return { winners, losersAllConflicts: losers.every(Boolean) };
    };
    const created = await race((i) => put("race.json", `create-${i}`, { IfNoneMatch: "*" }));
    const base = await put("base.json", "v0");
    const updated = await race((i) => put("base.json", `update-${i}`, { IfMatch: base.ETag }));
    for (const outcome of [created, updated]) {
      expect(outcome.losersAllConflicts).toBe(true);
      // moto checks the condition, then stores, with no lock between (moto/s3/responses.py): under load
      // two writers can win there. S3 and the Node stand-in make the pair one step.
      if (server.kind === "moto") expect(outcome.winners).toBeGreaterThanOrEqual(1);
      else expect(outcome.winners).toBe(1);
    }
  });

  it("DeleteObject is idempotent: 204 for an existing key and again for a gone one", async () => {
    await put("k.json", "x");
    const del = () => s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "k.json" }));
    expect((await del()).$metadata.httpStatusCode).toBe(204);
    expect((await del()).$metadata.httpStatusCode).toBe(204);
    expect(await failure(get("k.json"))).toMatchObject({ name: "NoSuchKey" });
  });

  it("ListObjectsV2 pages a prefix with continuation tokens: every key once, in order, counts right", async () => {
    const keys = Array.from({ length: 25 }, (_, i) => `targets/c${String(i).padStart(2, "0")}.json`);
    await Promise.all([...keys, "state/c00.json", "targets-other.json", "a.json"].map((k) => put(k, k)));
    const pages: ListObjectsV2CommandOutput[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: BUCKET,
          Prefix: "targets/",
          MaxKeys: 10,
          ContinuationToken: token,
        }),
      );
      pages.push(page);
      token = page.NextContinuationToken;
    } while (token);
    expect(pages.map((p) => [p.KeyCount, p.IsTruncated, p.MaxKeys])).toEqual([
      [10, true, 10],
      [10, true, 10],
      [5, false, 10],
    ]);
    expect(pages.flatMap((p) => p.Contents?.map((c) => c.Key))).toEqual(keys);
    const first = pages[0]?.Contents?.[0];
    expect(first).toMatchObject({ ETag: md5(keys[0] ?? ""), Size: Buffer.byteLength(keys[0] ?? "") });
    expect(first?.LastModified).toBeInstanceOf(Date);

    const after = await s3.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "targets/", StartAfter: "targets/c22.json" }),
    );
    expect(after.Contents?.map((c) => c.Key)).toEqual(keys.slice(23));
    const none = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "nothing/" }));
    expect(none).toMatchObject({ KeyCount: 0, IsTruncated: false });
    expect(none.Contents ?? []).toEqual([]);
  });

  it("paginateListObjectsV2 walks more than 1,000 keys in pages of at most 1,000", async () => {
    const keys = Array.from({ length: 1_050 }, (_, i) => `p/${String(i).padStart(4, "0")}.json`);
    for (let i = 0; i < keys.length; i += 50)
      await Promise.all(keys.slice(i, i + 50).map((k) => put(k, "[]")));
    await put("q/outside.json", "[]");
    const sizes: number[] = [];
    const listed: string[] = [];
    for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: BUCKET, Prefix: "p/" })) {
      sizes.push(page.KeyCount ?? -1);
      for (const c of page.Contents ?? []) listed.push(c.Key ?? "");
    }
    expect(sizes).toEqual([1_000, 50]);
    expect(listed).toEqual(keys);
  }, 120_000);

  it("keys with spaces, unicode, +, %, ?, #, &, <, .. and // round-trip, listed in UTF-8 byte order", async () => {
    const keys = [
      "k/with space.json",
      "k/plus+sign.json",
      "k/percent%2e%2e.json",
      "k/question?.json",
      "k/hash#.json",
      "k/amp&lt<gt>\"quote'.json",
      "k/../dots.json",
      "k//double.json",
      "k/ünïcødé.json",
      "k/日本語.json",
      "k/sym-😀.json",
      "k/sym-\uE000.json",
      "k/tab\there.json",
    ];
    for (const key of keys) await put(key, key);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "k/" }));
    const byteOrder = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    // In UTF-8 byte order the emoji (U+1F600) sorts after U+E000; JavaScript's UTF-16 order says otherwise.
    expect(byteOrder.indexOf("k/sym-😀.json")).toBeGreaterThan(byteOrder.indexOf("k/sym-\uE000.json"));
    expect(listed.Contents?.map((c) => c.Key)).toEqual(byteOrder);
    for (const key of keys) expect(await text(key)).toBe(key);
  });

  it("a body the SDK streams (aws-chunked, trailing CRC32) is stored decoded, byte for byte", async () => {
    const bytes = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 256));
    const chunks = [bytes.subarray(0, 70_000), bytes.subarray(70_000, 150_000), bytes.subarray(150_000)];
    const written = await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: "streamed.bin",
        Body: Readable.from(chunks),
        ContentLength: bytes.byteLength,
      }),
    );
    expect(written.ETag).toBe(md5(bytes));
    const got = await get("streamed.bin");
    expect(Buffer.from((await got.Body?.transformToByteArray()) ?? [])).toEqual(bytes);
  });

  it("GetObject answers the stored checksum (the SDK asks by default), so the SDK checks the body", async () => {
    const written = await put("k.json", '[{"targets":["10.0.0.1:9100"]}]');
    expect(written.ChecksumCRC32).toMatch(/^[A-Za-z0-9+/]{6}==$/);
    const got = await get("k.json");
    expect(got.ChecksumCRC32).toBe(written.ChecksumCRC32);
    expect(await got.Body?.transformToString()).toBe('[{"targets":["10.0.0.1:9100"]}]');
  });

  it("the checksums the SDK sends (CRC32 by default, SHA256 or CRC32C on request) are accepted", async () => {
    await put("default.json", "[]");
    await put("sha256.json", "[]", { ChecksumAlgorithm: "SHA256" });
    await put("crc32c.json", "[]", { ChecksumAlgorithm: "CRC32C" });
    await put("md5.json", "[]", { ContentMD5: createHash("md5").update("[]").digest("base64") });
    for (const key of ["default.json", "sha256.json", "crc32c.json", "md5.json"])
      expect(await text(key)).toBe("[]");
  });
});
