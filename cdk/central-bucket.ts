/**
 * Many regions, one bucket: the hubs of other regions write to a central bucket that one region's stack
 * creates (`bucketWriterRegions` there; `existingBucketName` and `existingBucketRegion` in the others).
 */
import { type Stack, Token } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as s3 from "aws-cdk-lib/aws-s3";
import { isAccountId } from "../lambda/shared/account-settings.js";
import { isBucketName } from "../lambda/shared/output-settings.js";
import { hubRoleName, roleArn } from "./hub-names.js";
import type { BucketWriter, EcsDiscoveryProps } from "./props.js";

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** The bucket props, checked. */
export interface BucketLayout {
  /** Other regions' hubs that write to the created bucket, each with its account. */
  readonly writers: readonly Required<BucketWriter>[];
  /**
   * The function writes to a bucket of another region, whose stack must name its role: the role gets its fixed
   * name.
   */
  readonly writesToOtherRegion: boolean;
}

export function checkBucketLayout(stack: Stack, props: EcsDiscoveryProps): BucketLayout {
  const { existingBucketName, existingBucketRegion, bucketName } = props;
  const regionKnown = !Token.isUnresolved(stack.region);
  if (existingBucketRegion !== undefined) {
    if (existingBucketName === undefined)
      throw new Error("existingBucketRegion is the region of existingBucketName; set both, or neither");
    if (!REGION.test(existingBucketRegion))
      throw new Error(`existingBucketRegion "${existingBucketRegion}" is not an AWS region name`);
  }
  if (existingBucketName !== undefined && (bucketName !== undefined || props.bucketWriterRegions?.length)) {
    throw new Error(
      "bucketName and bucketWriterRegions are settings of a bucket this stack creates; existingBucketName's are its owner's",
    );
  }
  if (bucketName !== undefined && !Token.isUnresolved(bucketName) && !isBucketName(bucketName))
    throw new Error(`bucketName "${bucketName}" is not a valid S3 bucket name`);
  const writers = (props.bucketWriterRegions ?? []).map((entry) => {
    const writer = typeof entry === "string" ? { region: entry } : entry;
    const account = writer.account ?? stack.account;
    if (!REGION.test(writer.region))
      throw new Error(`bucketWriterRegions has "${writer.region}", which is not an AWS region name`);
    if (writer.account !== undefined && !isAccountId(writer.account))
      throw new Error(
        `bucketWriterRegions has account "${writer.account}", which is not a 12-digit AWS account id`,
      );
    if (regionKnown && writer.region === stack.region && account === stack.account)
      throw new Error(
        `bucketWriterRegions lists ${writer.region}, this stack's own region, whose function owns the bucket`,
      );
    return { region: writer.region, account };
  });
  const writesToOtherRegion =
    existingBucketRegion !== undefined && (!regionKnown || existingBucketRegion !== stack.region);
  return { writers, writesToOtherRegion };
}

const camel = (region: string) =>
  region
    .split("-")
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join("");

/**
 * Lets each writer's hub role (`prometheus-ecs-discovery-hub-{region}` of its account) read, write and delete
 * the objects of its own region under both prefixes, and list those prefixes; nothing else. The principal
 * is the writer's account, narrowed to the role by `aws:PrincipalArn`: a bucket policy naming a role that does
 * not exist yet (a region deployed later) would fail to deploy, and one naming a role that is re-created would
 * silently stop matching. Within one account the hub roles' own policies already allow this; the statement
 * makes the grant visible on the bucket, and it is what lets another account's hubs in.
 */
export function allowBucketWriters(
  bucket: s3.Bucket,
  writers: readonly Required<BucketWriter>[],
  prefixes: { targetsPrefix: string; statePrefix: string },
): void {
  const stack = bucket.stack;
  for (const { region, account } of writers) {
    const own = [prefixes.targetsPrefix, prefixes.statePrefix].map((p) => `${p}*/${region}/`);
    const sid = `${camel(region)}${account === stack.account ? "" : account}`;
    const principals = [new iam.AccountPrincipal(account)];
    const conditions = { ArnEquals: { "aws:PrincipalArn": roleArn(stack, account, hubRoleName(region)) } };
    bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: `HubObjects${sid}`,
        principals,
        actions: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
        resources: own.map((p) => bucket.arnForObjects(`${p}*`)),
        conditions,
      }),
    );
    bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: `HubList${sid}`,
        principals,
        actions: ["s3:ListBucket"],
        resources: [bucket.bucketArn],
        conditions: { ...conditions, StringLike: { "s3:prefix": own.map((p) => `${p}*`) } },
      }),
    );
  }
}
