import { describe, expect, it } from "vitest";
import {
  ACCOUNT,
  asList,
  flatten,
  policyStatements,
  REGION,
  type Statement,
  synthConstruct,
} from "../support/cdk.js";

const CLUSTER_ACTIONS = ["ecs:DescribeTasks", "ecs:DescribeContainerInstances", "ecs:ListTasks"];
/** Actions whose API allows no resource ARN (or, for ListTasks, is narrowed by ecs:cluster instead). */
const STAR_ALLOWED = new Set([
  "ecs:ListClusters",
  "ecs:DescribeTaskDefinition",
  "ec2:DescribeInstances",
  "ec2:DescribeNetworkInterfaces",
  "ecs:ListTasks",
]);
const READ_VERB = /^(Describe|List|Get|Receive)/;

const variants = {
  "every cluster, created bucket": synthConstruct(),
  "two clusters, existing bucket, other prefixes": synthConstruct({
    clusters: ["prod", `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/batch`],
    existingBucketName: "shared-prometheus-targets",
    targetsPrefix: "sd/",
    statePrefix: "engine/",
  }),
  "two clusters, services and tags published": synthConstruct({
    clusters: ["prod", `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/batch`],
    include: ["TAGS", "SERVICES"],
  }),
};

describe.each(Object.entries(variants))("IAM with %s", (_name, { template, discovery }) => {
  const all = policyStatements(template);
  const allows = all.filter((s) => s.statement.Effect === "Allow");
  // Keys are {prefix}{account}/{region}/{cluster}.json: only this account's keys of this region.
  const prefixes = [discovery.targetsPrefix, discovery.statePrefix].map((p) => `${p}${ACCOUNT}/${REGION}/`);

  it("has no action wildcards", () => {
    for (const { statement } of allows) {
      for (const action of asList(statement.Action)) expect(action).not.toContain("*");
    }
  });

  it("writes S3 objects only under the targets and state prefixes of its own account and region", () => {
    for (const { statement } of allows) {
      const s3Writes = asList(statement.Action).filter(
        (a) => a.startsWith("s3:") && !READ_VERB.test(a.slice(3)),
      );
      if (s3Writes.length === 0) continue;
      for (const resource of asList(statement.Resource).map(flatten)) {
        expect(
          prefixes.some((p) => resource.endsWith(`/${p}*`)),
          `${s3Writes} on ${resource}`,
        ).toBe(true);
      }
    }
  });

  it("writes nothing else but its own logs and its own queue's messages", () => {
    const writes = allows.flatMap(({ statement }) =>
      asList(statement.Action).filter((a) => !a.startsWith("s3:") && !READ_VERB.test(a.split(":")[1] ?? "")),
    );
    expect(new Set(writes)).toEqual(
      new Set([
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:SendMessage",
      ]),
    );
  });

  it("lists the bucket only under its prefixes of its own account and region", () => {
    // The sidecar's listing of the whole targets prefix is checked below.
    for (const { statement } of allows.filter((s) => s.owner.includes("FunctionRole"))) {
      if (!asList(statement.Action).includes("s3:ListBucket")) continue;
      const patterns = asList(statement.Condition?.StringLike?.["s3:prefix"] as string | string[]);
      expect(patterns.length).toBeGreaterThan(0);
      expect(patterns).toEqual(prefixes.map((x) => `${x}*`));
    }
  });

  it("uses Resource * only for actions that allow nothing narrower", () => {
    for (const { statement } of allows) {
      if (!asList(statement.Resource).includes("*")) continue;
      for (const action of asList(statement.Action)) expect(STAR_ALLOWED.has(action), action).toBe(true);
    }
  });

  it("narrows the per-cluster ECS actions with the ecs:cluster condition key", () => {
    for (const { statement } of allows) {
      if (!asList(statement.Action).some((a) => CLUSTER_ACTIONS.includes(a))) continue;
      const condition = statement.Condition?.ArnEquals ?? statement.Condition?.ArnLike;
      expect(condition?.["ecs:cluster"], String(statement.Action)).toBeDefined();
    }
  });

  it("grants the function exactly the actions the engine calls", () => {
    const fnPolicy = all.filter((s) => s.owner.includes("FunctionRole"));
    const actions = new Set(fnPolicy.flatMap((s) => asList(s.statement.Action)));
    expect([...actions].sort()).toEqual(
      [
        "ec2:DescribeInstances",
        "ec2:DescribeNetworkInterfaces",
        ...(discovery.include.includes("SERVICES") ? ["ecs:DescribeServices"] : []),
        "ecs:DescribeClusters",
        "ecs:DescribeContainerInstances",
        "ecs:DescribeTaskDefinition",
        "ecs:DescribeTasks",
        "ecs:ListClusters",
        "ecs:ListTasks",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
        "sqs:SendMessage",
      ].sort(),
    );
  });

  it("gives the sidecar policy read actions on the targets prefix only", () => {
    const sidecar = all.filter((s) => s.owner.includes("SidecarReadPolicy"));
    expect(sidecar.flatMap((s) => asList(s.statement.Action)).sort()).toEqual([
      "s3:GetObject",
      "s3:ListBucket",
    ]);
    const objects = sidecar.find((s) => s.statement.Action === "s3:GetObject");
    expect(flatten(objects?.statement.Resource)).toMatch(new RegExp(`/${discovery.targetsPrefix}\\*$`));
    expect(JSON.stringify(sidecar)).not.toContain(discovery.statePrefix);
  });
});

describe("cluster scoping", () => {
  const { template } = variants["two clusters, existing bucket, other prefixes"];
  const statements = policyStatements(template).map((s) => s.statement);
  const bySid = (sid: string) => statements.find((s) => s.Sid === sid);
  const prodArn = `arn:\${AWS::Partition}:ecs:${REGION}:${ACCOUNT}:cluster/prod`;
  const batchArn = `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/batch`;

  it("describes only the configured clusters", () => {
    expect(asList(bySid("DescribeClusters")?.Resource).map(flatten)).toEqual([prodArn, batchArn]);
  });
  it("describes only the tasks of the configured clusters", () => {
    expect(asList(bySid("DescribeTasks")?.Resource).map(flatten)).toEqual([
      `arn:\${AWS::Partition}:ecs:${REGION}:${ACCOUNT}:task/prod/*`,
      `arn:aws:ecs:${REGION}:${ACCOUNT}:task/batch/*`,
    ]);
  });
  it("describes only the container instances of the configured clusters", () => {
    expect(asList(bySid("DescribeContainerInstances")?.Resource).map(flatten)).toEqual([
      `arn:\${AWS::Partition}:ecs:${REGION}:${ACCOUNT}:container-instance/prod/*`,
      `arn:aws:ecs:${REGION}:${ACCOUNT}:container-instance/batch/*`,
    ]);
  });
  it("lists tasks only in the configured clusters", () => {
    const condition = bySid("ListTasks")?.Condition?.ArnEquals?.["ecs:cluster"] as unknown[];
    expect(condition.map(flatten)).toEqual([prodArn, batchArn]);
  });
});

type Json = Record<string, unknown>;
interface ResourcePolicyStatement extends Statement {
  Principal?: unknown;
  NotAction?: unknown;
  NotResource?: unknown;
  NotPrincipal?: unknown;
}

describe.each(Object.entries(variants))("IAM loopholes with %s", (_name, { template }) => {
  const identity = policyStatements<ResourcePolicyStatement>(template);
  const resourceBased = policyStatements<ResourcePolicyStatement>(template, [
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
  ]);
  const roles = Object.entries(template.findResources("AWS::IAM::Role"));

  it("no statement inverts its scope with NotAction, NotResource or NotPrincipal", () => {
    // The checks above read Action and Resource; an inverted statement would slip past all of them.
    for (const { owner, statement } of [...identity, ...resourceBased]) {
      expect(statement.NotAction, owner).toBeUndefined();
      expect(statement.NotResource, owner).toBeUndefined();
      expect(statement.NotPrincipal, owner).toBeUndefined();
    }
  });

  it("roles carry no inline policies and no managed policies by ARN that the checks above cannot see", () => {
    for (const [id, role] of roles) {
      expect(role.Properties?.Policies, id).toBeUndefined();
      // AWSLambdaBasicExecutionRole, for one, allows logs:CreateLogGroup on every resource.
      expect(role.Properties?.ManagedPolicyArns, id).toBeUndefined();
    }
  });

  it("the function role can be assumed by Lambda only", () => {
    const [, role] = roles.find(([id]) => id.includes("FunctionRole")) ?? [];
    const trust = role?.Properties?.AssumeRolePolicyDocument?.Statement as ResourcePolicyStatement[];
    expect(trust).toEqual([
      { Action: "sts:AssumeRole", Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" } },
    ]);
  });

  it("writes logs only to its own log group and messages only to its own queues", () => {
    const logGroups = Object.keys(template.findResources("AWS::Logs::LogGroup"));
    const queues = Object.keys(template.findResources("AWS::SQS::Queue"));
    for (const { statement } of identity.filter((s) => s.statement.Effect === "Allow")) {
      const writes = asList(statement.Action).filter(
        (a) => (a.startsWith("logs:") || a.startsWith("sqs:")) && !READ_VERB.test(a.split(":")[1] ?? ""),
      );
      if (writes.length === 0) continue;
      const own = writes[0]?.startsWith("logs:") ? logGroups : queues;
      for (const resource of asList(statement.Resource).map(flatten)) {
        expect(
          own.some((id) => resource === `\${${id}.Arn}`),
          `${writes} on ${resource}`,
        ).toBe(true);
      }
    }
  });

  it("resource policies allow nobody but AWS services acting for this stack's own rules", () => {
    for (const { owner, statement } of resourceBased) {
      if (statement.Effect === "Deny") continue;
      const principal = statement.Principal as Json;
      expect(principal, owner).toEqual({ Service: "events.amazonaws.com" });
      const source = (statement.Condition?.ArnEquals as Json | undefined)?.["aws:SourceArn"];
      expect(flatten(source), owner).toMatch(/^\$\{.*Rule.*\.Arn\}$|^\$\{.*Schedule.*\.Arn\}$/);
    }
  });

  it("the bucket policy only denies (insecure transport), never grants", () => {
    const bucketPolicies = resourceBased.filter((s) => s.owner.includes("BucketPolicy"));
    for (const { statement } of bucketPolicies) {
      expect(statement.Effect).toBe("Deny");
      expect(statement.Condition?.Bool?.["aws:SecureTransport"]).toBe("false");
    }
  });

  it("only the schedule may invoke the function directly", () => {
    const permissions = Object.values(template.findResources("AWS::Lambda::Permission"));
    expect(permissions.length).toBeGreaterThan(0);
    for (const permission of permissions) {
      expect(permission.Properties?.Action).toBe("lambda:InvokeFunction");
      expect(permission.Properties?.Principal).toBe("events.amazonaws.com");
      expect(flatten(permission.Properties?.SourceArn)).toMatch(/ReconcileSchedule.*\.Arn\}$/);
    }
  });
});
