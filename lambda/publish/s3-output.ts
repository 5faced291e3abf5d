import {
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  type S3Client,
} from "@aws-sdk/client-s3";
import { isNotFound, isWriteConflict } from "../shared/aws-errors.js";
import { objectKey, parseObjectKey } from "../shared/file-sd.js";
import type { ObjectKind, ObjectRef, StoredObject, TargetOutput } from "./target-output.js";

export class S3TargetOutput implements TargetOutput {
  readonly location: string;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
    private readonly statePrefix: string,
  ) {
    this.location = `s3://${bucket}/${prefix}`;
  }

  private key(ref: ObjectRef, kind: ObjectKind): string {
    return objectKey(kind === "state" ? this.statePrefix : this.prefix, ref);
  }

  locationOf(ref: ObjectRef, kind: ObjectKind = "targets"): string {
    return `s3://${this.bucket}/${this.key(ref, kind)}`;
  }

  async read(ref: ObjectRef, kind: ObjectKind = "targets"): Promise<StoredObject | undefined> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(ref, kind) }));
      const body = (await out.Body?.transformToString("utf-8")) ?? "";
      return { body, etag: out.ETag ?? "" };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  readonly write: TargetOutput["write"] = async (ref, body, expected, kind = "targets") => {
    try {
      const out = await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key(ref, kind),
          Body: body,
          ContentType: "application/json",
          // S3 conditional writes: 412 when another run changed (or created) the object since we read it.
          ...(expected ? { IfMatch: expected.etag } : { IfNoneMatch: "*" }),
        }),
      );
      return out.ETag ?? "";
    } catch (error) {
      // S3 answers an If-Match on a key deleted since it was read (a clean-up in between) with 404, not 412:
      // the same lost race, read again.
      if (isWriteConflict(error) || (expected && isNotFound(error))) return undefined;
      throw error;
    }
  };

  async remove(ref: ObjectRef): Promise<void> {
    // State first: clean-up finds clusters by their targets object, so a run that dies in between leaves
    // the targets for the next clean-up, never a state object nothing would find.
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(ref, "state") }));
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(ref, "targets") }));
  }

  async listPublishedClusters(accountId: string, region: string): Promise<string[]> {
    const base = `${this.prefix}${accountId}/${region}/`;
    const names: string[] = [];
    for await (const page of paginateListObjectsV2(
      { client: this.s3 },
      { Bucket: this.bucket, Prefix: base },
    )) {
      for (const o of page.Contents ?? []) {
        const parsed = parseObjectKey(o.Key ?? "", this.prefix);
        if (parsed.ok) names.push(parsed.ref.name);
      }
    }
    return names;
  }
}
