import { Match } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../cdk/build-app.js";
import { settingsForRegion } from "../../cdk/settings.js";
import {
  ACCOUNT,
  asList,
  flatten,
  policyStatements,
  REGION,
  STUB_ENTRY,
  synthConstruct,
} from "../support/cdk.js";

type Json = Record<string, Record<string, unknown> | undefined>;

const MEMBERS = ["222233334444", "333344445555"];
const ORG = "o-a1b2c3d4e5";
const EXTERNAL_ID = "prometheus-ecs-discovery-7f3a";
const READER = (account: string) => `arn:aws:iam::${account}:role/prometheus-ecs-discovery-reader`;

const hub = synthConstruct({ accounts: MEMBERS, accountRoleExternalId: EXTERNAL_ID });
const orgHub = synthConstruct({ organizationId: ORG, accountRoleExternalId: EXTERNAL_ID });
const listedOrgHub = synthConstruct({
  accounts: MEMBERS,
  organizationId: ORG,
  accountRoleExternalId: EXTERNAL_ID,
});
const single = synthConstruct();

const resourceOf = (t: typeof hub.template, type: string) => Object.values(t.findResources(type))[0];
const functionStatements = (t: typeof hub.template) =>
  policyStatements(t)
    .filter((s) => s.owner.includes("FunctionRole"))
    .map((s) => s.statement);
const bySid = (t: typeof hub.template, sid: string) => functionStatements(t).find((s) => s.Sid === sid);
const busPolicyStatement = (t: typeof hub.template) =>
  resourceOf(t, "AWS::Events::EventBusPolicy")?.Properties.Statement as Record<string, unknown>;
const environment = (t: typeof hub.template): Record<string, unknown> =>
  resourceOf(t, "AWS::Lambda::Function")?.Properties.Environment.Variables;

describe("hub event bus", () => {
  it("has the fixed name spokes target", () => {
    hub.template.hasResourceProperties("AWS::Events::EventBus", { Name: "prometheus-ecs-discovery" });
  });
  it("accepts PutEvents from exactly the listed accounts", () => {
    const statement = busPolicyStatement(hub.template);
    expect(statement.Action).toBe("events:PutEvents");
    expect(asList((statement.Principal as { AWS: unknown }).AWS).map(flatten)).toEqual(
      MEMBERS.map((a) => `arn:\${AWS::Partition}:iam::${a}:root`),
    );
    expect(statement.Condition).toBeUndefined();
  });
  it("accepts PutEvents from any account of the organisation, and only of it", () => {
    const statement = busPolicyStatement(orgHub.template);
    expect(statement.Principal).toEqual({ AWS: "*" });
    expect(statement.Condition).toEqual({ StringEquals: { "aws:PrincipalOrgID": ORG } });
  });
  it("with both, accepts only the listed accounts and only as members of the organisation", () => {
    const statement = busPolicyStatement(listedOrgHub.template);
    expect(asList((statement.Principal as { AWS: unknown }).AWS)).toHaveLength(2);
    expect(statement.Condition).toEqual({ StringEquals: { "aws:PrincipalOrgID": ORG } });
  });
  it("has a rule with the task event pattern that feeds the event queue", () => {
    const queueId = Object.keys(hub.template.findResources("AWS::SQS::Queue")).find((id) =>
      id.includes("TaskEventQueue"),
    );
    const busId = Object.keys(hub.template.findResources("AWS::Events::EventBus"))[0];
    hub.template.hasResourceProperties("AWS::Events::Rule", {
      EventBusName: { Ref: busId },
      EventPattern: {
        source: ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        detail: { $or: [{ lastStatus: ["RUNNING", "STOPPED"] }, { desiredStatus: ["STOPPED"] }] },
      },
      Targets: [Match.objectLike({ Arn: { "Fn::GetAtt": [queueId, "Arn"] } })],
    });
  });
  it("lets that rule send to the queue", () => {
    const ruleId = Object.keys(hub.template.findResources("AWS::Events::Rule")).find((id) =>
      id.includes("HubTaskStateChangeRule"),
    );
    const sources = policyStatements(hub.template, ["AWS::SQS::QueuePolicy"]).map((s) =>
      flatten((s.statement.Condition?.ArnEquals as Record<string, unknown> | undefined)?.["aws:SourceArn"]),
    );
    expect(sources).toContain(`\${${ruleId}.Arn}`);
  });
  it("is absent from a single-account stack", () => {
    single.template.resourceCountIs("AWS::Events::EventBus", 0);
  });
});

describe("hub function", () => {
  it("may assume exactly the listed accounts' reader roles", () => {
    expect(bySid(hub.template, "AssumeReaderRoles")).toEqual({
      Sid: "AssumeReaderRoles",
      Effect: "Allow",
      Action: "sts:AssumeRole",
      Resource: MEMBERS.map(READER),
    });
  });
  it("with an organisation alone, may assume the reader role of the organisation's accounts only", () => {
    const statement = bySid(orgHub.template, "AssumeReaderRoles");
    expect(statement?.Resource).toBe(READER("*"));
    expect(statement?.Condition).toEqual({ StringEquals: { "aws:ResourceOrgID": ORG } });
  });
  it("reads and writes only its own and the listed accounts' keys of its region", () => {
    const keys = [ACCOUNT, ...MEMBERS].map((a) => `${a}/${REGION}/*`);
    expect(asList(bySid(hub.template, "ReadWriteOwnObjects")?.Resource).map(flatten)).toEqual(
      ["targets", "state"].flatMap((p) =>
        keys.map((k) => `\${DiscoveryTargetsBucket22E2367A.Arn}/${p}/${k}`),
      ),
    );
  });
  it("lists only its own and the listed accounts' prefixes of its region", () => {
    const keys = [ACCOUNT, ...MEMBERS].map((a) => `${a}/${REGION}/*`);
    expect(bySid(hub.template, "ListOwnPrefixes")?.Condition).toEqual({
      StringLike: { "s3:prefix": ["targets", "state"].flatMap((p) => keys.map((k) => `${p}/${k}`)) },
    });
  });
  it("with an organisation alone, reaches every account's keys of its region", () => {
    expect(bySid(orgHub.template, "ListOwnPrefixes")?.Condition).toEqual({
      StringLike: { "s3:prefix": [`targets/*/${REGION}/*`, `state/*/${REGION}/*`] },
    });
  });
  it("is told the accounts, the reader role and the external id", () => {
    expect(environment(hub.template)).toMatchObject({
      ACCOUNTS: MEMBERS.join(","),
      ACCOUNT_ROLE_ARN: READER("{account}"),
      ACCOUNT_ROLE_EXTERNAL_ID: EXTERNAL_ID,
    });
  });
  it("with an organisation alone, is told no account list", () => {
    expect(environment(orgHub.template).ACCOUNTS).toBeUndefined();
  });
  it("has the fixed role name spokes trust", () => {
    hub.template.hasResourceProperties("AWS::IAM::Role", {
      RoleName: `prometheus-ecs-discovery-hub-${REGION}`,
    });
  });
  it("outputs its role's ARN and the bus's ARN", () => {
    expect(Object.keys(hub.template.findOutputs("*"))).toEqual(
      expect.arrayContaining(["HubFunctionRoleArn", "HubEventBusArn", "HubEventRuleName"]),
    );
  });
  it("leaves a single-account stack without role name, account variables or hub outputs", () => {
    const role = Object.values(single.template.findResources("AWS::IAM::Role")).find(
      (r) => r.Properties.AssumeRolePolicyDocument.Statement[0].Principal.Service === "lambda.amazonaws.com",
    );
    expect(role?.Properties.RoleName).toBeUndefined();
    expect(Object.keys(environment(single.template)).filter((k) => k.startsWith("ACCOUNT"))).toEqual([]);
    expect(Object.keys(single.template.findOutputs("*")).filter((k) => k.startsWith("Hub"))).toEqual([]);
  });
  it("drops its own account from the list", () => {
    const { template } = synthConstruct({
      accounts: [ACCOUNT, MEMBERS[0] ?? ""],
      accountRoleExternalId: EXTERNAL_ID,
    });
    expect(environment(template).ACCOUNTS).toBe(MEMBERS[0]);
  });
});

describe("hub alarm", () => {
  const named = (template: typeof hub.template) =>
    Object.values(template.findResources("AWS::CloudWatch::Alarm")).filter((a) =>
      String(a.Properties.AlarmDescription).endsWith("Alarm: AccountFailures"),
    );
  it("AccountFailures: at least one account not listed in 3 reconcile periods in a row, on ALARM and OK", () => {
    const [alarm] = named(hub.template);
    expect(alarm?.Properties).toMatchObject({
      MetricName: "AccountFailures",
      Namespace: "PrometheusEcsDiscovery",
      Dimensions: [{ Name: "service", Value: "prometheus-ecs-discovery" }],
      Statistic: "Sum",
      Period: 300,
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
    });
    expect(alarm?.Properties.AlarmActions).toHaveLength(1);
    expect(alarm?.Properties.OKActions).toEqual(alarm?.Properties.AlarmActions);
    expect(hub.discovery.alarms).toHaveLength(9);
  });
  it("the dashboard shows failed listings per account and events from unlisted accounts", () => {
    const body = JSON.stringify(Object.values(hub.template.findResources("AWS::CloudWatch::Dashboard"))[0]);
    expect(body).toContain("Failed listings per account");
    expect(body).toMatch(/MetricName=.{0,8}AccountFailed/);
    expect(body).toContain("EventsFromUnlistedAccounts");
  });
  it("is absent without ACCOUNTS (an organisation alone discovers the own account only)", () => {
    expect(named(orgHub.template)).toEqual([]);
  });
});

describe("hub checks", () => {
  const fails = (props: Parameters<typeof synthConstruct>[0], message: RegExp) =>
    expect(() => synthConstruct(props)).toThrow(message);
  it("rejects an account that is no account id", () => {
    fails(
      { accounts: ["2222-3333-4444"], accountRoleExternalId: EXTERNAL_ID },
      /accounts has "2222-3333-4444"/,
    );
  });
  it("requires the external id the spokes demand", () => {
    fails({ accounts: MEMBERS }, /accountRoleExternalId is required/);
  });
  it("rejects reader role settings without other accounts", () => {
    fails({ accountRoleExternalId: EXTERNAL_ID }, /need other accounts/);
  });
  it("rejects an organisation id of the wrong shape", () => {
    fails({ organizationId: "r-abcd", accountRoleExternalId: EXTERNAL_ID }, /organizationId must be/);
  });
  it("rejects a reader role ARN without {account}, naming the function's variable", () => {
    fails(
      {
        accounts: MEMBERS,
        accountRoleExternalId: EXTERNAL_ID,
        accountRoleArn: "arn:aws:iam::222233334444:role/x",
      },
      /ACCOUNT_ROLE_ARN/,
    );
  });
});

describe("one central bucket for several regions", () => {
  const central = synthConstruct({
    bucketName: "acme-prometheus-targets",
    bucketWriterRegions: ["us-east-1", { region: "ap-southeast-2", account: "444455556666" }],
  });
  const writer = synthConstruct({
    existingBucketName: "acme-prometheus-targets",
    existingBucketRegion: "us-east-1",
  });
  const bucketStatements = policyStatements(central.template, ["AWS::S3::BucketPolicy"]).map(
    (s) => s.statement,
  );
  const sid = (id: string) => {
    const statement = bucketStatements.find((s) => s.Sid === id);
    if (statement === undefined) throw new Error(`no bucket policy statement ${id}`);
    return statement as unknown as {
      Action: unknown;
      Resource: unknown;
      Principal: { AWS: unknown };
      Condition: Json;
    };
  };
  const hubRole = (account: string, region: string) =>
    `arn:\${AWS::Partition}:iam::${account}:role/prometheus-ecs-discovery-hub-${region}`;

  it("tells the writer's function the bucket's region, so its S3 client asks there first", () => {
    const fn = Object.values(writer.template.findResources("AWS::Lambda::Function"))[0];
    expect(fn?.Properties.Environment.Variables.TARGETS_BUCKET_REGION).toBe("us-east-1");
    const own = Object.values(central.template.findResources("AWS::Lambda::Function"))[0];
    expect(own?.Properties.Environment.Variables.TARGETS_BUCKET_REGION).toBeUndefined();
  });
  it("names the created bucket", () => {
    central.template.hasResourceProperties("AWS::S3::Bucket", { BucketName: "acme-prometheus-targets" });
  });
  it("lets each region's hub role write only its region's keys", () => {
    const statement = sid("HubObjectsUsEast1");
    expect(statement.Action).toEqual(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]);
    expect(asList(statement.Resource).map(flatten)).toEqual([
      `\${DiscoveryTargetsBucket22E2367A.Arn}/targets/*/us-east-1/*`,
      `\${DiscoveryTargetsBucket22E2367A.Arn}/state/*/us-east-1/*`,
    ]);
  });
  it("names the hub role by aws:PrincipalArn, its account as principal", () => {
    const statement = sid("HubObjectsApSoutheast2444455556666");
    expect(flatten(statement.Principal.AWS)).toBe(`arn:\${AWS::Partition}:iam::444455556666:root`);
    expect(flatten(statement.Condition.ArnEquals?.["aws:PrincipalArn"])).toBe(
      hubRole("444455556666", "ap-southeast-2"),
    );
  });
  it("lets each region's hub role list only its region's prefixes", () => {
    const statement = sid("HubListUsEast1");
    expect(statement.Action).toBe("s3:ListBucket");
    expect(statement.Condition.StringLike).toEqual({
      "s3:prefix": ["targets/*/us-east-1/*", "state/*/us-east-1/*"],
    });
    expect(flatten(statement.Condition.ArnEquals?.["aws:PrincipalArn"])).toBe(hubRole(ACCOUNT, "us-east-1"));
  });
  it("keeps the secure defaults: TLS only, encrypted, versioned, public access blocked", () => {
    const denies = bucketStatements.filter((s) => s.Effect === "Deny");
    expect(denies.map((s) => s.Condition)).toEqual([{ Bool: { "aws:SecureTransport": "false" } }]);
    central.template.hasResourceProperties("AWS::S3::Bucket", {
      VersioningConfiguration: { Status: "Enabled" },
      BucketEncryption: Match.anyValue(),
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
  });
  it("gives a hub writing to another region's bucket its fixed role name", () => {
    writer.template.hasResourceProperties("AWS::IAM::Role", {
      RoleName: `prometheus-ecs-discovery-hub-${REGION}`,
    });
  });
  it("scopes that hub's access to its own keys of its region in the central bucket", () => {
    expect(asList(bySid(writer.template, "ReadWriteOwnObjects")?.Resource).map(flatten)).toEqual([
      `arn:\${AWS::Partition}:s3:::acme-prometheus-targets/targets/${ACCOUNT}/${REGION}/*`,
      `arn:\${AWS::Partition}:s3:::acme-prometheus-targets/state/${ACCOUNT}/${REGION}/*`,
    ]);
  });
  it("rejects writer regions on a bucket the stack does not create", () => {
    expect(() =>
      synthConstruct({ existingBucketName: "shared", bucketWriterRegions: ["us-east-1"] }),
    ).toThrow(/bucketName and bucketWriterRegions/);
  });
  it("rejects the stack's own region as a writer", () => {
    expect(() => synthConstruct({ bucketWriterRegions: [REGION] })).toThrow(/own region/);
  });
  it("rejects a bucket region without a bucket name", () => {
    expect(() => synthConstruct({ existingBucketRegion: "us-east-1" })).toThrow(/set both, or neither/);
  });
});

describe("hub settings in cdk.json", () => {
  it("pass through to the construct", () => {
    const props = settingsForRegion(
      {
        accounts: MEMBERS,
        organizationId: ORG,
        accountRoleExternalId: EXTERNAL_ID,
        accountRoleArn: "arn:aws:iam::{account}:role/custom-reader",
        byRegion: {
          "us-east-1": { existingBucketName: "targets-{region}", existingBucketRegion: "eu-west-1" },
        },
      },
      "us-east-1",
    );
    expect(props).toMatchObject({
      accounts: MEMBERS,
      organizationId: ORG,
      accountRoleExternalId: EXTERNAL_ID,
      accountRoleArn: "arn:aws:iam::{account}:role/custom-reader",
      existingBucketName: "targets-us-east-1",
      existingBucketRegion: "eu-west-1",
    });
  });
});

describe("cdk-nag AwsSolutions on a hub", () => {
  const nagged = (discovery: Record<string, unknown>) => {
    const { app } = buildApp({
      context: { regions: ["eu-west-1"], discovery },
      overrides: { entry: STUB_ENTRY },
    });
    return new AwsSolutionsChecks(app).validateScope(app).violations.map((v) => v.ruleName);
  };
  it("finds nothing unacknowledged with listed accounts and a central bucket", () => {
    expect(
      nagged({
        accounts: MEMBERS,
        accountRoleExternalId: EXTERNAL_ID,
        bucketName: "acme-prometheus-targets",
        bucketWriterRegions: ["us-east-1"],
      }),
    ).toEqual([]);
  });
  it("finds nothing unacknowledged with an organisation and another region's bucket", () => {
    expect(
      nagged({
        organizationId: ORG,
        accountRoleExternalId: EXTERNAL_ID,
        existingBucketName: "acme-prometheus-targets",
        existingBucketRegion: "us-east-1",
      }),
    ).toEqual([]);
  });
  it("acknowledges the organisation's reader role wildcard with its reason", () => {
    const { app } = buildApp({
      context: {
        regions: ["eu-west-1"],
        discovery: { organizationId: ORG, accountRoleExternalId: EXTERNAL_ID },
      },
      overrides: { entry: STUB_ENTRY },
    });
    const reasons = app.node
      .findAll()
      .flatMap((c) => c.node.metadata)
      .filter((m) => m.type === "aws:cdk:acknowledged-rules")
      .flatMap((m) => Object.entries(m.data as Record<string, string>));
    const reader = reasons.find(([id]) => id.includes("prometheus-ecs-discovery-reader"));
    expect(reader?.[0]).toContain(
      "AwsSolutions-IAM5[Resource::arn:aws:iam::*:role/prometheus-ecs-discovery-reader]",
    );
    expect(reader?.[1]).toMatch(/aws:ResourceOrgID/);
  });
});
