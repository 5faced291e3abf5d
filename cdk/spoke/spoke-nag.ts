import { Stack, Token, Validations } from "aws-cdk-lib";
import type * as iam from "aws-cdk-lib/aws-iam";
import { flattenForNag } from "../nag-acknowledgements.js";

/**
 * Acknowledges the reader role's wildcard resources, one pattern (or one deploy-time choice of patterns) at a
 * time, each with its reason; a new wildcard is still a finding. The forwarding rule's role has none.
 */
export function acknowledgeSpokeNagFindings(
  role: iam.Role,
  patternLists: readonly (readonly string[])[],
): void {
  const stack = Stack.of(role);
  const acknowledge = (resource: unknown, reason: string) =>
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${flattenForNag(stack.resolve(resource))}]`,
      reason,
    });
  acknowledge(
    "*",
    "ecs:ListClusters, ecs:DescribeTaskDefinition, ec2:DescribeInstances and ec2:DescribeNetworkInterfaces support " +
      "no resource-level permissions; ecs:ListTasks is authorised on container instances and narrowed by the " +
      "ecs:cluster condition.",
  );
  const reason =
    "The reader role is global and serves the hub function of every region, so the region is a wildcard; ECS " +
    "tasks, container instances and services have generated ids under their cluster. The patterns name the " +
    "configured clusters or every cluster of this account; for names from the Clusters parameter the partition " +
    "and account are wildcards too (CloudFormation cannot prefix a list parameter's items with pseudo " +
    "parameters), and ECS has no cross-account access, so only this account's resources are reachable.";
  for (const patterns of patternLists) {
    // A deploy-time choice (Fn::If) is one finding; plain patterns are one finding each.
    const resources = Token.isUnresolved(patterns) ? [patterns] : patterns.filter((p) => p.includes("*"));
    for (const resource of resources) acknowledge(resource, reason);
  }
}
