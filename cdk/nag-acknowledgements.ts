import { Stack, Validations } from "aws-cdk-lib";
import type * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as s3 from "aws-cdk-lib/aws-s3";
import type { WildcardResource } from "./engine-policy.js";

/** The resources with findings that remain by design. */
export interface AcknowledgedResources {
  readonly bucket: s3.IBucket;
  readonly accessLogsBucket: s3.IBucket | undefined;
  readonly role: iam.Role;
  /** The role's wildcard resources, each with its reason. */
  readonly wildcards: readonly WildcardResource[];
  readonly sidecarPolicy: iam.ManagedPolicy;
  readonly targetsPrefix: string;
  readonly fn: lambda.Function;
}

/**
 * Acknowledges the cdk-nag findings that remain by design, each with its reason. IAM5 findings are
 * acknowledged one resource pattern at a time (never the whole rule), so a new wildcard still fails.
 *
 * The alarm topic needs none: AwsSolutions checks that it accepts only TLS publishers (SNS3, `enforceSSL`).
 * It is deliberately not KMS-encrypted (cdk/alarm-topic.ts says why); should a cdk-nag release check SNS
 * encryption again, acknowledge it on the topic here with that reason.
 */
export function acknowledgeNagFindings(r: AcknowledgedResources): void {
  // Only a bucket this stack creates has settings of its own; an existing one is its owner's.
  if (r.bucket instanceof s3.Bucket && !r.accessLogsBucket) {
    Validations.of(r.bucket).acknowledge({
      id: "AwsSolutions-S1",
      reason:
        "Only this stack's function writes here and only readers granted the sidecar policy read; S3 data events " +
        "in CloudTrail cover auditing where needed. Pass accessLogsBucket to turn server access logs on.",
    });
  }
  const stack = Stack.of(r.role);
  const idOf = (resource: string) => `AwsSolutions-IAM5[Resource::${flattenForNag(stack.resolve(resource))}]`;
  for (const { resource, reason } of r.wildcards)
    Validations.of(r.role).acknowledge({ id: idOf(resource), reason });
  Validations.of(r.sidecarPolicy).acknowledge({
    id: idOf(r.bucket.arnForObjects(`${r.targetsPrefix}*`)),
    reason:
      "The sidecar reads every file_sd object (one per account, region and cluster) under the targets prefix.",
  });
  Validations.of(r.role).acknowledge({
    id: "AwsSolutions-IAM5[Resource::*]",
    reason:
      "ecs:ListClusters, ecs:DescribeTaskDefinition, ec2:DescribeInstances and ec2:DescribeNetworkInterfaces " +
      "support no resource-level " +
      "permissions; ecs:ListTasks is authorised on container instances and narrowed by the ecs:cluster condition.",
  });
  Validations.of(r.fn).acknowledge({
    id: "AwsSolutions-L1",
    reason:
      "Pinned to Node.js 24, the newest runtime Lambda offers and the one the bundle is built for (esbuild target " +
      "node24) and tested on (npm ci installs Node.js 24 for every script); moving on is a deliberate, tested change.",
  });
}

/** The flat string cdk-nag shows for a resolved CloudFormation value (`<Logical.Arn>`, `<AWS::Partition>`). */
export function flattenForNag(node: unknown): string {
  if (node === undefined) return "";
  if (typeof node === "string") return node.replace(/\$\{/g, "<").replace(/}/g, ">");
  if (typeof node === "object" && node !== null) {
    const o = node as Record<string, unknown>;
    if (Array.isArray(o["Fn::Join"])) {
      const [delimiter, items] = o["Fn::Join"] as [string, unknown[]];
      return items.map(flattenForNag).join(delimiter);
    }
    if (o["Fn::Sub"] !== undefined) return flattenForNag(o["Fn::Sub"]);
    if (Array.isArray(o["Fn::GetAtt"])) {
      const [resource, attribute] = o["Fn::GetAtt"] as [unknown, unknown];
      return `<${flattenForNag(resource)}.${flattenForNag(attribute)}>`;
    }
    if (o["Fn::ImportValue"] !== undefined) return flattenForNag(o["Fn::ImportValue"]);
    if (o.Ref !== undefined) return `<${flattenForNag(o.Ref)}>`;
  }
  return JSON.stringify(node);
}
