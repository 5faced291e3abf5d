import { CreateBucketCommand, DeleteObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { S3TargetOutput } from "../../lambda/publish/s3-output.js";
import { s3Client, startS3 } from "../support/s3.js";

const ref = { accountId: "123456789012", region: "eu-west-1", name: "prod" };

describe("S3TargetOutput.remove", () => {
  it("deletes the state before the targets, so a run that dies in between leaves what clean-up finds", async () => {
    const s3 = mockClient(S3Client);
    s3.on(DeleteObjectCommand, { Key: "state/123456789012/eu-west-1/prod.json" }).resolves({});
    s3.on(DeleteObjectCommand, { Key: "targets/123456789012/eu-west-1/prod.json" }).rejects(
      Object.assign(new Error("the run was killed"), { name: "TimeoutError" }),
    );
    const output = new S3TargetOutput(new S3Client({ region: "eu-west-1" }), "bucket", "targets/", "state/");
    await expect(output.remove(ref)).rejects.toThrow(/killed/);
    const keys = s3.commandCalls(DeleteObjectCommand).map((c) => c.args[0].input.Key);
    expect(keys).toEqual([
      "state/123456789012/eu-west-1/prod.json",
      "targets/123456789012/eu-west-1/prod.json",
    ]);
    s3.restore();
  });
});

describe("S3TargetOutput.write against an S3", () => {
  it("takes an object deleted since it was read (S3 answers 404 to If-Match) as a lost race, not a failure", async () => {
    const server = await startS3();
    try {
      const client = s3Client(server.url);
      await client.send(new CreateBucketCommand({ Bucket: "sd-bucket" }));
      const output = new S3TargetOutput(client, "sd-bucket", "targets/", "state/");
      const etag = await output.write(ref, "[]\n", undefined);
      expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
      expect(await output.write(ref, "[]\n", undefined)).toBeUndefined();
      await output.remove(ref);
      expect(await output.write(ref, "[1]\n", { etag: etag as string, body: "[]\n" })).toBeUndefined();
    } finally {
      await server.stop();
    }
  });
});
