import { DeleteObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { S3TargetOutput } from "../../lambda/publish/s3-output.js";

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
