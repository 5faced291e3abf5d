import { ArnFormat, type Stack } from "aws-cdk-lib";

/** An ECS ARN of this stack's partition, region and account (`arn:…:ecs:…:<resource>/<resourceName>`). */
export function ecsArn(stack: Stack, resource: string, resourceName: string): string {
  return stack.formatArn({
    service: "ecs",
    resource,
    resourceName,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
  });
}

/** The ARNs of `clusters` (names or ARNs); a name is a cluster of this stack's account and region. */
export function clusterArns(stack: Stack, clusters: readonly string[]): string[] {
  return clusters.map((c) => (c.startsWith("arn:") ? c : ecsArn(stack, "cluster", c)));
}

/**
 * ARN pattern of the tasks or container instances of one cluster (`…:task/NAME/*`). A cluster given as an
 * ARN keeps its own partition, region and account.
 */
export function childArnPattern(stack: Stack, cluster: string, resource: string): string {
  if (cluster.startsWith("arn:")) return `${cluster.replace(":cluster/", `:${resource}/`)}/*`;
  return ecsArn(stack, resource, `${cluster}/*`);
}
