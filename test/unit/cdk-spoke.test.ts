import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { buildSpokeApp, SPOKE_TEMPLATE_FILE, synthSpokeTemplate } from "../../cdk/spoke/build-spoke-app.js";
import { EcsDiscoverySpoke } from "../../cdk/spoke/spoke-construct.js";
import { parseSpokeSettings } from "../../cdk/spoke/spoke-settings.js";
import { EcsDiscoverySpokeStack } from "../../cdk/spoke/spoke-stack.js";
import { asList, synthConstruct } from "../support/cdk.js";

const HUB = "111122223333";
const MEMBER = "222233334444";
const REGION = "eu-west-1";
const ORG = "o-a1b2c3d4e5";
const EXTERNAL_ID = "prometheus-ecs-discovery-7f3a";
const HUB_ROLE = `arn:aws:iam::${HUB}:role/prometheus-ecs-discovery-hub-${REGION}`;
const READ_ACTIONS = [
  "ec2:DescribeInstances",
  "ec2:DescribeNetworkInterfaces",
  "ecs:DescribeClusters",
  "ecs:DescribeContainerInstances",
  "ecs:DescribeServices",
  "ecs:DescribeTaskDefinition",
  "ecs:DescribeTasks",
  "ecs:ListClusters",
  "ecs:ListTasks",
];

type Json = Record<string, unknown>;

// ---- a small CloudFormation evaluator: the StackSets template as one member account would get it ---------------

const NO_VALUE = Symbol("AWS::NoValue");
interface Deployment {
  readonly parameters: Record<string, string>;
  readonly region?: string;
}

/** The template's resources and outputs as CloudFormation would create them for `deployment`. */
function deploy(template: Json, deployment: Deployment): { resources: Record<string, Json>; outputs: Json } {
  const declared = (template.Parameters ?? {}) as Record<string, { Type: string; Default?: string }>;
  const params: Record<string, unknown> = {
    "AWS::Partition": "aws",
    "AWS::Region": deployment.region ?? REGION,
    "AWS::AccountId": MEMBER,
  };
  for (const [name, { Type, Default }] of Object.entries(declared)) {
    const value = deployment.parameters[name] ?? Default;
    if (value === undefined) throw new Error(`parameter ${name} has no value`);
    params[name] = Type === "CommaDelimitedList" ? value.split(",") : value;
  }
  const conditions = (template.Conditions ?? {}) as Json;
  const holds = (name: string): boolean => evaluate(conditions[name]) === true;
  function evaluate(node: unknown): unknown {
    if (Array.isArray(node)) return node.map(evaluate).filter((v) => v !== NO_VALUE);
    if (typeof node !== "object" || node === null) return node;
    const [key, arg] = Object.entries(node)[0] ?? [];
    const args = arg as unknown[];
    switch (key) {
      case "Ref":
        return arg === "AWS::NoValue" ? NO_VALUE : (params[arg as string] ?? `<${arg}>`);
      case "Fn::GetAtt":
        return `<${args.join(".")}>`;
      case "Fn::Join":
        return (evaluate(args[1]) as string[]).join(args[0] as string);
      case "Fn::Split":
        return (evaluate(args[1]) as string).split(args[0] as string);
      case "Fn::If":
        return evaluate(holds(args[0] as string) ? args[1] : args[2]);
      case "Fn::Equals":
        return evaluate(args[0]) === evaluate(args[1]);
      case "Fn::Not":
        return !evaluate(args[0]);
      case "Fn::Or":
        return args.some((a) => evaluate(a));
      case "Condition":
        return holds(arg as string);
    }
    const out: Json = {};
    for (const [k, v] of Object.entries(node)) {
      const value = evaluate(v);
      if (value !== NO_VALUE) out[k] = value;
    }
    return out;
  }
  const created = <T extends Json>(entries: Record<string, T>) =>
    Object.fromEntries(
      Object.entries(entries)
        .filter(([, r]) => r.Condition === undefined || holds(r.Condition as string))
        .map(([id, r]) => [id, evaluate(r) as Json]),
    );
  return {
    resources: created(template.Resources as Record<string, Json>),
    outputs: created((template.Outputs ?? {}) as Record<string, Json>),
  };
}

const { template, body } = synthSpokeTemplate();
const required = { HubAccountId: HUB, ExternalId: EXTERNAL_ID };
const ofType = (resources: Record<string, Json>, type: string) =>
  Object.values(resources).filter((r) => r.Type === type) as { Properties: Json }[];
const propsOf = (deployment: Deployment, type: string) =>
  ofType(deploy(template, deployment).resources, type);
function defined<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`no ${what}`);
  return value;
}
const readerRole = (parameters: Record<string, string> = {}) =>
  defined(
    propsOf({ parameters: { ...required, ...parameters } }, "AWS::IAM::Role").find(
      (r) => r.Properties.RoleName === "prometheus-ecs-discovery-reader",
    ),
    "reader role",
  ).Properties;
/** The reader role's one trust statement. */
const readerTrust = (parameters: Record<string, string> = {}) =>
  defined((readerRole(parameters).AssumeRolePolicyDocument as { Statement: Json[] }).Statement[0], "trust");
const readerStatements = (parameters: Record<string, string> = {}) => {
  const policy = defined(
    propsOf({ parameters: { ...required, ...parameters } }, "AWS::IAM::Policy").find((p) =>
      JSON.stringify(p).includes("ecs:ListClusters"),
    ),
    "reader policy",
  );
  return (policy.Properties.PolicyDocument as { Statement: Json[] }).Statement;
};
const forwardRule = (parameters: Record<string, string> = {}) =>
  propsOf({ parameters: { ...required, ...parameters } }, "AWS::Events::Rule")[0]?.Properties as Json;
const patternOf = (rule: Json) =>
  (typeof rule.EventPattern === "string" ? JSON.parse(rule.EventPattern) : rule.EventPattern) as Json;

const HUB_PATTERN = {
  source: ["aws.ecs"],
  "detail-type": ["ECS Task State Change"],
  detail: { $or: [{ lastStatus: ["RUNNING", "STOPPED"] }, { desiredStatus: ["STOPPED"] }] },
};

describe("the StackSets template", () => {
  it(`is small: ${Buffer.byteLength(body)} bytes`, () => {
    console.log(`spoke template (${SPOKE_TEMPLATE_FILE}): ${Buffer.byteLength(body)} bytes`);
    expect(Buffer.byteLength(body)).toBeLessThan(20 * 1024);
  });
  it("needs no assets and no bootstrap stack", () => {
    expect(Object.keys(template).sort()).toEqual([
      "Conditions",
      "Description",
      "Outputs",
      "Parameters",
      "Resources",
    ]);
    expect(Object.keys(template.Parameters as Json)).not.toContain("BootstrapVersion");
    expect(body).not.toMatch(/cdk-hnb659fds|aws:asset|CDKMetadata|BootstrapVersion/);
  });
  it("holds only the rule, the reader role and the rule's role", () => {
    const types = Object.values(template.Resources as Record<string, { Type: string }>).map((r) => r.Type);
    expect(types.sort()).toEqual([
      "AWS::Events::Rule",
      "AWS::IAM::Policy",
      "AWS::IAM::Policy",
      "AWS::IAM::Role",
      "AWS::IAM::Role",
    ]);
  });
  it("asks for every setting as a parameter, the hub account and the external id without a default", () => {
    const parameters = template.Parameters as Record<string, Json>;
    expect(Object.keys(parameters).sort()).toEqual([
      "Clusters",
      "ExternalId",
      "HubAccountId",
      "HubEventBusName",
      "HubFunctionRoleArn",
      "OrganizationId",
      "ReaderRoleRegion",
    ]);
    expect(parameters.HubAccountId?.Default).toBeUndefined();
    expect(parameters.ExternalId?.Default).toBeUndefined();
    expect(parameters.HubEventBusName?.Default).toBe("prometheus-ecs-discovery");
  });
  it("is the file npm run synth:spoke writes", () => {
    expect(SPOKE_TEMPLATE_FILE).toBe("dist/spoke/prometheus-ecs-discovery-spoke.template.json");
  });
});

describe("forwarding rule", () => {
  it("forwards the hub's task event pattern from every cluster by default", () => {
    expect(patternOf(forwardRule())).toEqual(HUB_PATTERN);
  });
  it("is narrowed to the Clusters given, by the end of their ARNs", () => {
    expect(patternOf(forwardRule({ Clusters: "prod,batch" }))).toEqual({
      ...HUB_PATTERN,
      detail: {
        ...HUB_PATTERN.detail,
        clusterArn: [{ suffix: ":cluster/prod" }, { suffix: ":cluster/batch" }],
      },
    });
  });
  it("targets the hub's event bus in the same region", () => {
    expect((forwardRule().Targets as Json[])[0]?.Arn).toBe(
      `arn:aws:events:${REGION}:${HUB}:event-bus/prometheus-ecs-discovery`,
    );
  });
  it("puts events with a role that may put events on that bus only", () => {
    const policies = propsOf({ parameters: required }, "AWS::IAM::Policy").map(
      (p) => (p.Properties.PolicyDocument as { Statement: Json[] }).Statement,
    );
    expect(policies.find((s) => s[0]?.Action === "events:PutEvents")).toEqual([
      {
        Action: "events:PutEvents",
        Effect: "Allow",
        Resource: `arn:aws:events:${REGION}:${HUB}:event-bus/prometheus-ecs-discovery`,
      },
    ]);
  });
});

describe("reader role", () => {
  it("is named prometheus-ecs-discovery-reader", () => {
    expect(readerRole().RoleName).toBe("prometheus-ecs-discovery-reader");
  });
  it("may do exactly the ECS and EC2 reads of discovery", () => {
    const actions = readerStatements().flatMap((s) => asList(s.Action as string | string[]));
    expect(actions.sort()).toEqual(READ_ACTIONS);
  });
  it("narrows the per-cluster reads to the Clusters given", () => {
    const tasks = readerStatements({ Clusters: "prod,batch" }).find((s) => s.Sid === "DescribeTasks");
    expect(tasks?.Resource).toEqual(["arn:*:ecs:*:*:task/prod/*", "arn:*:ecs:*:*:task/batch/*"]);
    expect(tasks?.Condition).toEqual({
      ArnLike: { "ecs:cluster": ["arn:*:ecs:*:*:cluster/prod", "arn:*:ecs:*:*:cluster/batch"] },
    });
  });
  it("reads every cluster of its account, in every region, without Clusters", () => {
    const clusters = readerStatements().find((s) => s.Sid === "DescribeClusters");
    expect(clusters?.Resource).toEqual([`arn:aws:ecs:*:${MEMBER}:cluster/*`]);
  });
  it("trusts the hub account's function role only, with the external id", () => {
    expect((readerRole().AssumeRolePolicyDocument as { Statement: Json[] }).Statement).toEqual([
      {
        Action: "sts:AssumeRole",
        Effect: "Allow",
        Principal: { AWS: `arn:aws:iam::${HUB}:root` },
        Condition: {
          StringEquals: { "sts:ExternalId": EXTERNAL_ID },
          ArnLike: { "aws:PrincipalArn": `arn:aws:iam::${HUB}:role/prometheus-ecs-discovery-hub-*` },
        },
      },
    ]);
  });
  it("trusts exactly the HubFunctionRoleArn given", () => {
    expect((readerTrust({ HubFunctionRoleArn: HUB_ROLE }).Condition as Json).ArnLike).toEqual({
      "aws:PrincipalArn": HUB_ROLE,
    });
  });
  it("demands the organisation when one is given", () => {
    expect((readerTrust({ OrganizationId: ORG }).Condition as Json).StringEquals).toEqual({
      "sts:ExternalId": EXTERNAL_ID,
      "aws:PrincipalOrgID": ORG,
    });
  });
  it("is created once per account: in ReaderRoleRegion only", () => {
    const roles = (region: string) =>
      ofType(
        deploy(template, { parameters: { ...required, ReaderRoleRegion: "eu-west-1" }, region }).resources,
        "AWS::IAM::Role",
      )
        .map((r) => r.Properties.RoleName)
        .filter((n) => n !== undefined);
    expect(roles("eu-west-1")).toEqual(["prometheus-ecs-discovery-reader"]);
    expect(roles("us-east-1")).toEqual([]);
  });
  it("outputs its ARN where it is created", () => {
    expect(deploy(template, { parameters: required }).outputs.ReaderRoleArn).toMatchObject({
      Value: "<SpokeReaderRoleB003F83D.Arn>",
    });
  });
});

describe("the spoke construct with plain values", () => {
  const synth = (props: Partial<ConstructorParameters<typeof EcsDiscoverySpoke>[2]> = {}) => {
    const app = new App();
    const stack = new Stack(app, "Spoke", { env: { account: MEMBER, region: REGION } });
    new EcsDiscoverySpoke(stack, "Spoke", { hubAccountId: HUB, externalId: EXTERNAL_ID, ...props });
    return Template.fromStack(stack);
  };
  it("narrows the rule to the clusters without a condition", () => {
    synth({ clusters: ["prod"] }).hasResourceProperties("AWS::Events::Rule", {
      EventPattern: { detail: { clusterArn: [{ suffix: ":cluster/prod" }] } },
    });
  });
  it("leaves the organisation condition out when none is given", () => {
    const role = synth().findResources("AWS::IAM::Role", {
      Properties: { RoleName: "prometheus-ecs-discovery-reader" },
    });
    expect(JSON.stringify(role)).not.toContain("aws:PrincipalOrgID");
  });
  it("creates no reader role when another region's spoke does", () => {
    synth({ createReaderRole: false }).resourcePropertiesCountIs(
      "AWS::IAM::Role",
      { RoleName: "prometheus-ecs-discovery-reader" },
      0,
    );
  });
  it("rejects a hub account that is no account id", () => {
    expect(() => synth({ hubAccountId: "1111-2222-3333" })).toThrow(/hubAccountId/);
  });
  it("rejects a cluster that is no cluster name", () => {
    expect(() => synth({ clusters: ["prod cluster"] })).toThrow(/"prod cluster"/);
  });
});

describe("the spoke app for cdk deploy", () => {
  const settings = { hubAccountId: HUB, externalId: EXTERNAL_ID, clusters: "prod,batch" };
  const { app, stacks } = buildSpokeApp({
    context: { regions: ["eu-west-1", "us-east-1"], spoke: settings },
  });

  it("has one stack per region", () => {
    expect(stacks.map((s) => s.stackName)).toEqual([
      "PrometheusEcsDiscoverySpoke-eu-west-1",
      "PrometheusEcsDiscoverySpoke-us-east-1",
    ]);
  });
  it("makes the settings the parameters' defaults, the reader role's region the first region", () => {
    const parameters = Template.fromStack(stacks[1] as Stack).toJSON().Parameters;
    expect(parameters.HubAccountId.Default).toBe(HUB);
    expect(parameters.Clusters.Default).toBe("prod,batch");
    expect(parameters.ReaderRoleRegion.Default).toBe("eu-west-1");
  });
  it("passes cdk-nag in every region", () => {
    expect(new AwsSolutionsChecks(app).validateScope(app).violations).toEqual([]);
  });
  it("acknowledges only the reader role's wildcards, each with a reason", () => {
    const acknowledged = app.node
      .findAll()
      .flatMap((c) => c.node.metadata.map((m) => ({ path: c.node.path, m })))
      .filter(({ m }) => m.type === "aws:cdk:acknowledged-rules");
    for (const { path, m } of acknowledged) {
      expect(path).toMatch(/\/Spoke\/ReaderRole$/);
      for (const reason of Object.values(m.data as Record<string, string>))
        expect(reason.length).toBeGreaterThan(60);
    }
    expect(acknowledged.length).toBeGreaterThan(0);
  });
  it("rejects an unknown setting", () => {
    expect(() => parseSpokeSettings({ hubAccount: HUB })).toThrow(/unknown setting "hubAccount"/);
  });
  it("rejects a bad setting as the construct would", () => {
    expect(() => parseSpokeSettings({ organizationId: "org-1" })).toThrow(/organizationId/);
  });
});

describe("the StackSets template against the hub", () => {
  it("forwards exactly what the hub's own rule takes", () => {
    const hubRule = Object.values(synthConstruct().template.findResources("AWS::Events::Rule")).find(
      (r) => r.Properties.EventPattern,
    );
    expect(patternOf(forwardRule())).toEqual(hubRule?.Properties.EventPattern);
  });
  it("passes cdk-nag", () => {
    const app = new App();
    new EcsDiscoverySpokeStack(app, "PrometheusEcsDiscoverySpoke");
    expect(new AwsSolutionsChecks(app).validateScope(app).violations).toEqual([]);
  });
});
