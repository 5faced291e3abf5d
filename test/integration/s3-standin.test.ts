/**
 * The Node.js S3 stand-in's own rules, beyond the contract both S3 implementations share
 * (s3-contract.test.ts): it refuses what S3 refuses, so a broken client or a wrongly decoded body fails
 * here instead of passing unnoticed.
 */
import { request } from "node:http";
import { CreateBucketCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type S3StandIn, startS3StandIn } from "../standin/s3/index.js";
import { s3Client } from "../support/s3.js";

const BUCKET = "standin-bucket";
const SIGNED = { authorization: "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/s3/aws4_request" };
let standIn: S3StandIn;
let s3: S3Client;

const raw = (path: string, init: RequestInit = {}) =>
  fetch(`${standIn.url}${path}`, {
    ...init,
    headers: { ...SIGNED, ...(init.headers as Record<string, string>) },
  });

beforeAll(async () => {
  standIn = await startS3StandIn();
  s3 = s3Client(standIn.url);
});
afterAll(async () => {
  s3?.destroy();
  await standIn?.close();
});
beforeEach(async () => {
  standIn.reset();
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

describe("the S3 stand-in", () => {
  it("refuses unsigned requests with AccessDenied, as S3 does for a private bucket", async () => {
    const res = await fetch(`${standIn.url}/${BUCKET}?list-type=2`);
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/<Code>AccessDenied<\/Code>/);
  });

  it("rejects a body whose checksum does not match: BadDigest, nothing stored", async () => {
    const res = await raw(`/${BUCKET}/k.json`, {
      method: "PUT",
      body: "[]",
      headers: { "x-amz-checksum-crc32": "AAAAAA==" },
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/<Code>BadDigest<\/Code>/);
    expect((await raw(`/${BUCKET}/k.json`)).status).toBe(404);
  });

  it("rejects an aws-chunked body cut short, or missing the trailer it declared", async () => {
    const headers = {
      "content-encoding": "aws-chunked",
      "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
      "x-amz-trailer": "x-amz-checksum-crc32",
    };
    const cut = await raw(`/${BUCKET}/k.json`, { method: "PUT", body: "a\r\n0123", headers });
    expect(cut.status).toBe(400);
    const noTrailer = await raw(`/${BUCKET}/k.json`, {
      method: "PUT",
      body: "2\r\n[]\r\n0\r\n\r\n",
      headers,
    });
    expect(noTrailer.status).toBe(400);
    expect(await noTrailer.text()).toMatch(/MalformedTrailerError/);
  });

  it("writes listed keys XML-escaped and ETags as S3 does", async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "a&b<c>.json", Body: "x" }));
    const xml = await (await raw(`/${BUCKET}?list-type=2`)).text();
    expect(xml).toContain("<Key>a&amp;b&lt;c&gt;.json</Key>");
    expect(xml).toContain("<ETag>&quot;9dd4e461268c8034f5c8564e155c67a6&quot;</ETag>");
    expect(xml).toMatch(/<KeyCount>1<\/KeyCount><MaxKeys>1000<\/MaxKeys><IsTruncated>false<\/IsTruncated>/);
  });

  it("answers a forged continuation token with InvalidArgument", async () => {
    const res = await raw(`/${BUCKET}?list-type=2&continuation-token=bm9wZQ%3D%3D`);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/<Code>InvalidArgument<\/Code>/);
  });

  it("says NotImplemented for what it does not model, instead of answering as if it did", async () => {
    expect((await raw(`/${BUCKET}/k.json?tagging`)).status).toBe(501);
    expect((await raw(`/${BUCKET}?delete`, { method: "POST", body: "<Delete/>" })).status).toBe(501);
    expect((await raw(`/${BUCKET}?list-type=2&delimiter=/`)).status).toBe(501);
  });

  it("accepts virtual-host addressing (BUCKET.localhost)", async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "v.json", Body: "[]" }));
    // fetch() will not send a Host header of its own choosing; node:http will.
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: standIn.port,
          path: "/v.json",
          headers: { ...SIGNED, host: `${BUCKET}.localhost` },
        },
        (res) => {
          let body = "";
          res.on("data", (c: Buffer) => {
            body += c.toString();
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.end();
    });
    expect(answer).toEqual({ status: 200, body: "[]" });
  });

  it("counts requests by operation and forgets everything on reset", async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "k.json", Body: "[]" }));
    expect(standIn.counts()).toMatchObject({ CreateBucket: 1, PutObject: 1 });
    standIn.reset();
    expect(standIn.counts()).toEqual({});
    expect(standIn.store.hasBucket(BUCKET)).toBe(false);
  });
});
