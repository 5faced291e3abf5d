import { Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as logs from "aws-cdk-lib/aws-logs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";
import { childArnPattern, ecsArn } from "./ecs-arns.js";

/** A wildcard resource of the function's policy, with the reason it cannot be narrower. */
export interface WildcardResource {
  readonly resource: string;
  readonly reason: string;
}

/**
 * What the function reads and writes: the ECS clusters, and under its two prefixes of the targets bucket, the
 * keys of the accounts it discovers in its own region.
 */
export interface EngineScope {
  /** The `clusters` prop as given (names or ARNs); empty when every cluster of the region is discovered. */
  readonly clusters: readonly string[];
  readonly clusterArns: readonly string[];
  readonly bucket: s3.IBucket;
  readonly targetsPrefix: string;
  readonly statePrefix: string;
  /** `INCLUDE=SERVICES`: the function describes the services of the tasks it publishes. */
  readonly includeServices: boolean;
  /**
   * The account segment of every key the function reads or writes: its own account and the other accounts
   * it discovers; `*` for an organisation whose accounts are not listed.
   */
  readonly keyAccounts: readonly string[];
  /** The function's region: keys are `{prefix}{account}/{region}/{cluster}.json`. */
  readonly region: string;
}

/**
 * The function's role; its only permission so far is writing to its own log group. `roleName` is given when
 * others must name the role: a hub's spokes trust it, a central bucket's policy names it.
 */
export function buildFunctionRole(scope: Construct, logGroup: logs.ILogGroup, roleName?: string): iam.Role {
  const role = new iam.Role(scope, "FunctionRole", {
    assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
    description: "prometheus-ecs-discovery: ECS/EC2 read, S3 write under the targets and state prefixes",
    ...(roleName !== undefined ? { roleName } : {}),
  });
  // Written out instead of AWSLambdaBasicExecutionRole, which allows every log group of the account.
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: "WriteOwnLogs",
      actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
      resources: [logGroup.logGroupArn],
    }),
  );
  return role;
}

/** Adds the function's ECS, EC2 and S3 permissions; returns the wildcard resources with the reason for each. */
export function grantEngineAccess(role: iam.Role, engine: EngineScope): WildcardResource[] {
  const arns = ecsResourceArns(Stack.of(role), engine);
  for (const statement of engineStatements(engine, arns)) role.addToPrincipalPolicy(statement);
  return wildcardResources(engine, arns);
}

/** The ECS resources the function reads, as ARNs or ARN patterns. */
export interface EcsResourceArns {
  /** Whether `clusters` narrows discovery, and with it every ECS resource below. */
  readonly scoped: boolean;
  readonly clusters: readonly string[];
  readonly tasks: readonly string[];
  readonly containerInstances: readonly string[];
  readonly services: readonly string[];
}

function ecsResourceArns(stack: Stack, engine: EngineScope): EcsResourceArns {
  const scoped = engine.clusterArns.length > 0;
  // Tasks and container instances have long-format ARNs `…:task/<cluster>/<id>`.
  const children = (resource: string) =>
    scoped ? engine.clusters.map((c) => childArnPattern(stack, c, resource)) : [ecsArn(stack, resource, "*")];
  return {
    scoped,
    clusters: scoped ? engine.clusterArns : [ecsArn(stack, "cluster", "*")],
    tasks: children("task"),
    containerInstances: children("container-instance"),
    services: children("service"),
  };
}

/** The prefixes under which the function reads and writes: `{prefix}{account}/{region}/` of each account. */
export function objectPrefixes(engine: EngineScope): string[] {
  return [engine.targetsPrefix, engine.statePrefix].flatMap((prefix) =>
    engine.keyAccounts.map((account) => `${prefix}${account}/${engine.region}/`),
  );
}

function engineStatements(engine: EngineScope, arns: EcsResourceArns): iam.PolicyStatement[] {
  const prefixes = objectPrefixes(engine);
  return [
    ...ecsReadStatements(arns, engine.includeServices),
    new iam.PolicyStatement({
      sid: "ReadWriteOwnObjects",
      actions: ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
      resources: prefixes.map((p) => engine.bucket.arnForObjects(`${p}*`)),
    }),
    new iam.PolicyStatement({
      sid: "ListOwnPrefixes",
      actions: ["s3:ListBucket"],
      resources: [engine.bucket.bucketArn],
      conditions: { StringLike: { "s3:prefix": prefixes.map((p) => `${p}*`) } },
    }),
  ];
}

/**
 * The ECS and EC2 reads of discovery, on `arns`: the function's own, and a member account's reader role
 * (cdk/spoke/). `ecs:cluster` narrows the per-cluster actions (ArnEquals on configured clusters, else ArnLike).
 */
export function ecsReadStatements(arns: EcsResourceArns, includeServices: boolean): iam.PolicyStatement[] {
  const clusterCondition = arns.scoped
    ? { ArnEquals: { "ecs:cluster": [...arns.clusters] } }
    : { ArnLike: { "ecs:cluster": [...arns.clusters] } };
  return [
    new iam.PolicyStatement({
      sid: "ListClusters",
      // ListClusters has no resource type; the function needs it to find gone clusters.
      actions: ["ecs:ListClusters"],
      resources: ["*"],
    }),
    new iam.PolicyStatement({
      sid: "DescribeClusters",
      actions: ["ecs:DescribeClusters"],
      resources: [...arns.clusters],
    }),
    new iam.PolicyStatement({
      sid: "ListTasks",
      // ListTasks is authorised on container instances; the cluster is enforced by the ecs:cluster key.
      actions: ["ecs:ListTasks"],
      resources: ["*"],
      conditions: clusterCondition,
    }),
    new iam.PolicyStatement({
      sid: "DescribeTasks",
      actions: ["ecs:DescribeTasks"],
      resources: [...arns.tasks],
      conditions: clusterCondition,
    }),
    new iam.PolicyStatement({
      sid: "DescribeContainerInstances",
      actions: ["ecs:DescribeContainerInstances"],
      resources: [...arns.containerInstances],
      conditions: clusterCondition,
    }),
    ...(includeServices
      ? [
          new iam.PolicyStatement({
            sid: "DescribeServices",
            actions: ["ecs:DescribeServices"],
            resources: [...arns.services],
          }),
        ]
      : []),
    new iam.PolicyStatement({
      sid: "DescribeTaskDefinitionsAndInstances",
      // None of these actions supports resource-level permissions.
      actions: ["ecs:DescribeTaskDefinition", "ec2:DescribeInstances", "ec2:DescribeNetworkInterfaces"],
      resources: ["*"],
    }),
  ];
}

function wildcardResources(engine: EngineScope, arns: EcsResourceArns): WildcardResource[] {
  const wildcards: WildcardResource[] = objectPrefixes(engine).map((prefix) => ({
    resource: engine.bucket.arnForObjects(`${prefix}*`),
    reason: prefix.startsWith(engine.targetsPrefix)
      ? "Object keys are {prefix}{account}/{region}/{cluster}.json and clusters come and go; access is confined to " +
        "the keys of one account (any account of the organisation when they are not listed) in this region."
      : "The function's own state objects, one per cluster; confined to the state keys of one account (any " +
        "account of the organisation when they are not listed) in this region.",
  }));
  for (const [patterns, what] of [
    [arns.tasks, "tasks"],
    [arns.containerInstances, "container instances"],
    [engine.includeServices ? arns.services : [], "services"],
    [arns.clusters, "clusters"],
  ] as const) {
    for (const arn of patterns.filter((p) => p.includes("*"))) {
      wildcards.push({
        resource: arn,
        reason: arns.scoped
          ? `ECS ${what} of a configured cluster have generated IDs; the pattern names the cluster.`
          : `Discovery covers every cluster of the region (no clusters configured), so any ECS ${what} of this ` +
            "account and region; set clusters to narrow it.",
      });
    }
  }
  return wildcards;
}
