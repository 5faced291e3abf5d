import * as iam from "aws-cdk-lib/aws-iam";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";

/** Where the file_sd objects are: the sidecar reads these and nothing else (not the state prefix). */
export interface TargetObjects {
  readonly bucket: s3.IBucket;
  readonly targetsPrefix: string;
}

/** Listing of, and reading from, the targets prefix. */
function readStatements({
  bucket,
  targetsPrefix,
}: TargetObjects): [iam.PolicyStatement, iam.PolicyStatement] {
  return [
    new iam.PolicyStatement({
      sid: "ListTargets",
      actions: ["s3:ListBucket"],
      resources: [bucket.bucketArn],
      conditions: { StringLike: { "s3:prefix": [`${targetsPrefix}*`] } },
    }),
    new iam.PolicyStatement({
      sid: "ReadTargets",
      actions: ["s3:GetObject"],
      resources: [bucket.arnForObjects(`${targetsPrefix}*`)],
    }),
  ];
}

/** The managed policy to attach to the sidecar's role. */
export function buildSidecarPolicy(scope: Construct, targets: TargetObjects): iam.ManagedPolicy {
  return new iam.ManagedPolicy(scope, "SidecarReadPolicy", {
    description: `Read the Prometheus file_sd objects under ${targets.targetsPrefix} (prometheus-ecs-discovery sidecar)`,
    statements: readStatements(targets),
  });
}

/** The sidecar policy's access, granted to `grantee` directly. */
export function grantTargetsRead(grantee: iam.IGrantable, targets: TargetObjects): iam.Grant {
  const [list, get] = readStatements(targets);
  iam.Grant.addToPrincipal({
    grantee,
    actions: list.actions,
    resourceArns: list.resources,
    conditions: list.conditions,
  });
  return iam.Grant.addToPrincipal({ grantee, actions: get.actions, resourceArns: get.resources });
}
