import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { App, CfnParameter, Duration, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as iam from "aws-cdk-lib/aws-iam";
import * as logs from "aws-cdk-lib/aws-logs";
import * as sns from "aws-cdk-lib/aws-sns";
import { describe, expect, expectTypeOf, it } from "vitest";
import { EcsDiscovery, type LabelNameProps } from "../../cdk/ecs-discovery-construct.js";
import type { LabelKey } from "../../lambda/shared/settings.js";
import { ACCOUNT, REGION, STUB_ENTRY, synthConstruct } from "../support/cdk.js";

const SDK_STUB = new URL("../fixtures/cdk/stub-handler-sdk.ts", import.meta.url).pathname;

// One synth with every default (the SDK stub shows the SDK is bundled) ...
const defaults = synthConstruct({ entry: SDK_STUB });
const t = defaults.template;
// ... and one with every prop set away from its default.
const app = new App();
const stack = new Stack(app, "Configured", { env: { account: ACCOUNT, region: REGION } });
const topic = new sns.Topic(stack, "Alerts");
const configured = new EcsDiscovery(stack, "Discovery", {
  entry: STUB_ENTRY,
  clusters: ["prod", `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/batch`],
  labels: { port: "com.prometheus-ecs-discovery.port", path: "com.prometheus-ecs-discovery.path" },
  filterLabel: "monitoring=enabled",
  selectors: [{ family: "nginx-.*", container: "nginx", port: 9113, path: "/metrics" }],
  includeTags: true,
  existingBucketName: "shared-prometheus-targets",
  targetsPrefix: "sd/",
  statePrefix: "engine/",
  reconcileInterval: Duration.minutes(10),
  reconcileMissingPeriods: 4,
  logLevel: "DEBUG",
  logRetention: logs.RetentionDays.ONE_WEEK,
  alarmTopic: topic,
  memorySize: 1024,
  timeout: Duration.seconds(60),
  apiConcurrency: 4,
  maxAttempts: 3,
  churnGuardPercent: 80,
  eventBatchSize: 500,
  eventBatchingWindow: Duration.seconds(10),
  eventMaxConcurrency: 3,
  reservedConcurrency: 5,
});
configured.addOutputs(stack);
const c = Template.fromStack(stack);

const fn = (template: Template) =>
  Object.values(template.findResources("AWS::Lambda::Function"))[0]?.Properties;
const env = (template: Template): Record<string, unknown> => fn(template)?.Environment?.Variables ?? {};

describe("discovery function", () => {
  it("runs on Node.js 24", () => {
    t.hasResourceProperties("AWS::Lambda::Function", { Runtime: "nodejs24.x" });
  });
  it("runs on arm64", () => {
    t.hasResourceProperties("AWS::Lambda::Function", { Architectures: ["arm64"] });
  });
  it("is an ESM bundle with a source map, and the SDK inside it", () => {
    const assembly = defaults.stack.node.root as App;
    const dir = assembly.synth().directory;
    const key = String(fn(t)?.Code?.S3Key).replace(/\.zip$/, "");
    const bundle = join(dir, `asset.${key}`);
    expect(fn(t)?.Handler).toBe("index.handler");
    expect(existsSync(join(bundle, "index.mjs"))).toBe(true);
    expect(existsSync(join(bundle, "index.mjs.map"))).toBe(true);
    const code = readFileSync(join(bundle, "index.mjs"), "utf8");
    expect(code).not.toMatch(/from\s*"@aws-sdk\//);
    expect(code).toContain("S3Client");
  });
  it("maps stack traces through the source map", () => {
    expect(env(t).NODE_OPTIONS).toMatch(/^--enable-source-maps /);
  });
  it("limits V8's heap to what the function's memory allows (60 % old space, small semi-spaces)", () => {
    expect(env(t).NODE_OPTIONS).toBe("--enable-source-maps --max-old-space-size=307 --max-semi-space-size=4");
  });
  it("logs JSON to its own log group, kept 30 days by default", () => {
    t.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
    t.hasResourceProperties("AWS::Lambda::Function", {
      LoggingConfig: { LogFormat: "JSON", LogGroup: { Ref: Match.stringLikeRegexp("LogGroup") } },
    });
  });
  it("keeps logs as long as logRetention says", () => {
    c.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 7 });
  });
  it("has 512 MB and 2 minutes by default", () => {
    t.hasResourceProperties("AWS::Lambda::Function", { MemorySize: 512, Timeout: 120 });
  });
  it("takes memorySize and timeout", () => {
    c.hasResourceProperties("AWS::Lambda::Function", { MemorySize: 1024, Timeout: 60 });
  });
  it("has no reserved concurrency by default", () => {
    expect(fn(t)?.ReservedConcurrentExecutions).toBeUndefined();
  });
  it("takes reservedConcurrency", () => {
    c.hasResourceProperties("AWS::Lambda::Function", { ReservedConcurrentExecutions: 5 });
  });
  it("gets the engine's defaults as environment", () => {
    expect(env(t)).toEqual({
      TARGETS_BUCKET: { Ref: expect.stringMatching(/TargetsBucket/) },
      TARGETS_PREFIX: "targets/",
      STATE_PREFIX: "state/",
      MAX_CONCURRENCY: "8",
      MAX_ATTEMPTS: "6",
      POWERTOOLS_LOG_LEVEL: "INFO",
      POWERTOOLS_SERVICE_NAME: "prometheus-ecs-discovery",
      POWERTOOLS_METRICS_NAMESPACE: "PrometheusEcsDiscovery",
      NODE_OPTIONS: "--enable-source-maps --max-old-space-size=307 --max-semi-space-size=4",
    });
  });
  it("passes the bucket's name", () => {
    expect(env(t).TARGETS_BUCKET).toEqual({ Ref: Object.keys(t.findResources("AWS::S3::Bucket"))[0] });
    expect(env(c).TARGETS_BUCKET).toBe("shared-prometheus-targets");
  });
  it("passes clusters", () => {
    expect(env(c).CLUSTERS).toBe(`prod,arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/batch`);
  });
  it("passes label names", () => {
    expect(env(c).PORT_LABEL).toBe("com.prometheus-ecs-discovery.port");
    expect(env(c).PATH_LABEL).toBe("com.prometheus-ecs-discovery.path");
    expect(env(c).SCHEME_LABEL).toBeUndefined();
  });
  it("passes the filter label", () => {
    expect(env(c).FILTER_LABEL).toBe("monitoring=enabled");
  });
  it("passes selectors as JSON", () => {
    expect(JSON.parse(String(env(c).SELECTORS))).toEqual([
      { family: "nginx-.*", container: "nginx", port: 9113, path: "/metrics" },
    ]);
  });
  it("passes includeTags (deprecated) as INCLUDE=TAGS", () => {
    expect(env(c).INCLUDE).toBe("TAGS");
  });
  it("passes the include list and the dynamic-export mode", () => {
    const { template } = synthConstruct({ include: ["TAGS", "SERVICES"], dynamicExport: "only" });
    expect([env(template).INCLUDE, env(template).DYNAMIC_EXPORT]).toEqual(["TAGS,SERVICES", "only"]);
  });
  it("fails the synth on an unknown include item, naming INCLUDE", () => {
    expect(() => synthConstruct({ include: ["TAGS", "LABELS" as "TAGS"] })).toThrow(/INCLUDE.*"LABELS"/);
  });
  it("fails the synth on an event source Lambda would refuse at deploy time", () => {
    expect(() => synthConstruct({ eventBatchingWindow: Duration.seconds(0) })).toThrow(
      /eventBatchSize 1000 needs an eventBatchingWindow of at least 1 second/,
    );
    expect(() => synthConstruct({ eventBatchSize: 20_000 })).toThrow(/eventBatchSize must be .* 10000/);
    expect(() => synthConstruct({ eventBatchingWindow: Duration.minutes(6) })).toThrow(/from 0 to 300/);
    expect(() =>
      synthConstruct({ eventBatchingWindow: Duration.seconds(0), eventBatchSize: 10 }),
    ).not.toThrow();
  });
  it("passes prefixes", () => {
    expect([env(c).TARGETS_PREFIX, env(c).STATE_PREFIX]).toEqual(["sd/", "engine/"]);
  });
  it("passes the log level", () => {
    expect(env(c).POWERTOOLS_LOG_LEVEL).toBe("DEBUG");
  });
  it("lets Lambda keep the log lines of that level", () => {
    t.hasResourceProperties("AWS::Lambda::Function", { LoggingConfig: { ApplicationLogLevel: "INFO" } });
    c.hasResourceProperties("AWS::Lambda::Function", { LoggingConfig: { ApplicationLogLevel: "DEBUG" } });
  });
  it("passes API concurrency and attempts", () => {
    expect([env(c).MAX_CONCURRENCY, env(c).MAX_ATTEMPTS]).toEqual(["4", "3"]);
  });
  it("passes the churn guard threshold", () => {
    expect(env(c).CHURN_GUARD_PERCENT).toBe("80");
  });
  it("has one label prop per label variable of the settings contract", () => {
    expectTypeOf<keyof LabelNameProps>().toEqualTypeOf<LabelKey>();
  });
  it("fails the synth on a setting the function would reject at cold start", () => {
    expect(() => synthConstruct({ selectors: [{ family: "nginx-(", port: 9113 }] })).toThrow(
      /configuration: SELECTORS \[0\]\.family is not a valid regular expression/,
    );
    expect(() => synthConstruct({ labels: { port: "metrics=port" } })).toThrow(/configuration: PORT_LABEL/);
  });
  it("retries a failed asynchronous invocation twice", () => {
    t.hasResourceProperties("AWS::Lambda::EventInvokeConfig", { MaximumRetryAttempts: 2 });
  });
  it("drops an asynchronous invocation once the next reconcile is due", () => {
    t.hasResourceProperties("AWS::Lambda::EventInvokeConfig", { MaximumEventAgeInSeconds: 300 });
    c.hasResourceProperties("AWS::Lambda::EventInvokeConfig", { MaximumEventAgeInSeconds: 600 });
  });
  it("dead-letters failed asynchronous (scheduled) invocations", () => {
    t.hasResourceProperties("AWS::Lambda::Function", {
      DeadLetterConfig: { TargetArn: { "Fn::GetAtt": [Match.stringLikeRegexp("DeadLetterQueue"), "Arn"] } },
    });
  });
});

describe("ECS task event rule", () => {
  it("matches the task transitions that add or remove targets", () => {
    t.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: {
        source: ["aws.ecs"],
        "detail-type": ["ECS Task State Change"],
        detail: { $or: [{ lastStatus: ["RUNNING", "STOPPED"] }, { desiredStatus: ["STOPPED"] }] },
      },
    });
  });
  it("matches every cluster by default", () => {
    t.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: { detail: Match.objectEquals({ $or: Match.anyValue() }) },
    });
  });
  it("is narrowed to the configured clusters", () => {
    c.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: {
        detail: {
          clusterArn: [
            {
              "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, `:ecs:${REGION}:${ACCOUNT}:cluster/prod`]],
            },
            `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/batch`,
          ],
        },
      },
    });
  });
  it("delivers to the queue with a retry policy and a dead-letter queue", () => {
    t.hasResourceProperties("AWS::Events::Rule", {
      EventPattern: Match.objectLike({ source: ["aws.ecs"] }),
      Targets: [
        {
          Arn: { "Fn::GetAtt": [Match.stringLikeRegexp("TaskEventQueue"), "Arn"] },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 },
          DeadLetterConfig: { Arn: { "Fn::GetAtt": [Match.stringLikeRegexp("DeadLetterQueue"), "Arn"] } },
        },
      ],
    });
  });
});

describe("storm control: queue, batching, bounded concurrency", () => {
  it("hands the function up to 1000 events gathered for up to 1 s", () => {
    t.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      BatchSize: 1000,
      MaximumBatchingWindowInSeconds: 1,
    });
  });
  it("runs at most 2 event invocations at once", () => {
    t.hasResourceProperties("AWS::Lambda::EventSourceMapping", { ScalingConfig: { MaximumConcurrency: 2 } });
  });
  it("lets the function report partial batch failures", () => {
    t.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });
  it("takes the batching props", () => {
    c.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 10,
      ScalingConfig: { MaximumConcurrency: 3 },
    });
  });
  it("redrives a message that failed 5 times to the dead-letter queue", () => {
    t.hasResourceProperties("AWS::SQS::Queue", {
      RedrivePolicy: {
        deadLetterTargetArn: { "Fn::GetAtt": [Match.stringLikeRegexp("DeadLetterQueue"), "Arn"] },
        maxReceiveCount: 5,
      },
    });
  });
  it("hides a message in flight for six function timeouts", () => {
    t.hasResourceProperties("AWS::SQS::Queue", { RedrivePolicy: Match.anyValue(), VisibilityTimeout: 720 });
    c.hasResourceProperties("AWS::SQS::Queue", { RedrivePolicy: Match.anyValue(), VisibilityTimeout: 360 });
  });
  it("encrypts both queues", () => {
    expect(
      Object.values(t.findResources("AWS::SQS::Queue")).map((q) => q.Properties.SqsManagedSseEnabled),
    ).toEqual([true, true]);
  });
  it("denies non-TLS access to the queues", () => {
    const policies = Object.values(t.findResources("AWS::SQS::QueuePolicy"));
    expect(policies).toHaveLength(2);
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
      );
    }
  });
});

describe("reconcile schedule", () => {
  it("runs every 5 minutes by default", () => {
    t.hasResourceProperties("AWS::Events::Rule", { ScheduleExpression: "rate(5 minutes)" });
  });
  it("takes reconcileInterval", () => {
    c.hasResourceProperties("AWS::Events::Rule", { ScheduleExpression: "rate(10 minutes)" });
  });
  it("invokes the function directly with a retry policy and a dead-letter queue", () => {
    t.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: Match.anyValue(),
      Targets: [
        {
          Arn: { "Fn::GetAtt": [Match.stringLikeRegexp("Function"), "Arn"] },
          RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 },
          DeadLetterConfig: { Arn: { "Fn::GetAtt": [Match.stringLikeRegexp("DeadLetterQueue"), "Arn"] } },
        },
      ],
    });
  });
  it("rejects an interval that is not whole minutes", () => {
    expect(() => synthConstruct({ reconcileInterval: Duration.seconds(90) })).toThrow(
      /whole number of minutes/,
    );
  });
});

describe("targets bucket", () => {
  it("is encrypted", () => {
    t.hasResourceProperties("AWS::S3::Bucket", {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
    });
  });
  it("is versioned", () => {
    t.hasResourceProperties("AWS::S3::Bucket", { VersioningConfiguration: { Status: "Enabled" } });
  });
  it("expires old versions after 30 days", () => {
    t.hasResourceProperties("AWS::S3::Bucket", {
      LifecycleConfiguration: {
        Rules: [Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 30 } })],
      },
    });
  });
  it("blocks public access", () => {
    t.hasResourceProperties("AWS::S3::Bucket", {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
  });
  it("enforces TLS", () => {
    t.hasResourceProperties("AWS::S3::BucketPolicy", {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Deny",
            Action: "s3:*",
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
        ]),
      },
    });
  });
  it("is retained when the stack is deleted", () => {
    t.hasResource("AWS::S3::Bucket", { DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain" });
  });
  it("is not created when an existing bucket is named", () => {
    c.resourceCountIs("AWS::S3::Bucket", 0);
  });
  it("rejects a prefix without a trailing slash", () => {
    expect(() => synthConstruct({ targetsPrefix: "sd" })).toThrow(
      /configuration: targetsPrefix must be a key prefix ending with "\/", got "sd"/,
    );
  });
  it("rejects overlapping prefixes", () => {
    expect(() => synthConstruct({ targetsPrefix: "sd/", statePrefix: "sd/state/" })).toThrow(
      /must not overlap/,
    );
  });
});

describe("sidecar access", () => {
  it("exports a managed policy that reads only the targets prefix", () => {
    c.hasResourceProperties("AWS::IAM::ManagedPolicy", {
      PolicyDocument: {
        Statement: [
          {
            Action: "s3:ListBucket",
            Effect: "Allow",
            Resource: {
              "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":s3:::shared-prometheus-targets"]],
            },
            Condition: { StringLike: { "s3:prefix": ["sd/*"] } },
            Sid: "ListTargets",
          },
          {
            Action: "s3:GetObject",
            Effect: "Allow",
            Resource: {
              "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":s3:::shared-prometheus-targets/sd/*"]],
            },
            Sid: "ReadTargets",
          },
        ],
      },
    });
  });
  it("grants the same read access to a role with grantRead", () => {
    const { template } = synthConstruct({}, (s, discovery) => {
      const role = new iam.Role(s, "PrometheusTaskRole", {
        assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
      });
      discovery.grantRead(role);
    });
    const statements = template.findResources("AWS::IAM::Policy", {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp("PrometheusTaskRole") }] },
    });
    const doc = Object.values(statements)[0]?.Properties.PolicyDocument.Statement;
    expect(doc.map((st: { Action: string }) => st.Action)).toEqual(["s3:ListBucket", "s3:GetObject"]);
    expect(doc[0].Condition).toEqual({ StringLike: { "s3:prefix": ["targets/*"] } });
  });
});

describe("outputs", () => {
  it("name the bucket", () => {
    t.hasOutput("BucketName", { Value: { Ref: Match.stringLikeRegexp("TargetsBucket") } });
  });
  it("name the prefix", () => {
    t.hasOutput("TargetsPrefix", { Value: "targets/" });
  });
  it("name the function", () => {
    t.hasOutput("FunctionName", { Value: { Ref: Match.stringLikeRegexp("Function") } });
  });
  it("export the sidecar policy", () => {
    t.hasOutput("SidecarPolicyArn", {
      Value: { Ref: Match.stringLikeRegexp("SidecarReadPolicy") },
      Export: { Name: "Test-SidecarPolicyArn" },
    });
  });
  it("give the exact resync command, reading the answer for a minute longer than the function may run", () => {
    const fnId = Object.keys(t.findResources("AWS::Lambda::Function"))[0];
    t.hasOutput("ResyncCommand", {
      Value: {
        "Fn::Join": [
          "",
          [
            `aws lambda invoke --region ${REGION} --function-name `,
            { Ref: fnId },
            ` --cli-read-timeout 180 --cli-binary-format raw-in-base64-out --payload '{"action":"resync"}' /dev/stdout`,
          ],
        ],
      },
    });
  });
  it("set the resync command's read timeout from the function's timeout", () => {
    expect(JSON.stringify(c.findOutputs("ResyncCommand"))).toContain(" --cli-read-timeout 120 ");
  });
  it("name the log group and the dead-letter queue for the runbook", () => {
    t.hasOutput("LogGroupName", { Value: { Ref: Match.stringLikeRegexp("LogGroup") } });
    t.hasOutput("DeadLetterQueueUrl", { Value: { Ref: Match.stringLikeRegexp("DeadLetterQueue") } });
  });
  it("name the event queue", () => {
    t.hasOutput("EventQueueName", {
      Value: { "Fn::GetAtt": [Match.stringLikeRegexp("TaskEventQueue"), "QueueName"] },
    });
  });
  it("give the event queue's URL", () => {
    t.hasOutput("EventQueueUrl", { Value: { Ref: Match.stringLikeRegexp("TaskEventQueue") } });
  });
  it("name the task event rule", () => {
    t.hasOutput("EventRuleName", { Value: { Ref: Match.stringLikeRegexp("TaskStateChangeRule") } });
  });
  it("name the reconcile schedule rule", () => {
    t.hasOutput("ReconcileScheduleRuleName", { Value: { Ref: Match.stringLikeRegexp("ReconcileSchedule") } });
  });
  it("give the UUID of the queue → function mapping", () => {
    const mappingId = Object.keys(t.findResources("AWS::Lambda::EventSourceMapping"))[0];
    t.hasOutput("EventSourceMappingId", { Value: { Ref: mappingId } });
  });
  it("give the alarm topic's ARN", () => {
    t.hasOutput("AlarmTopicArn", { Value: { Ref: Match.stringLikeRegexp("AlarmTopic") } });
    c.hasOutput("AlarmTopicArn", { Value: { Ref: Match.stringLikeRegexp("^Alerts") } });
  });
  it("name the dashboard", () => {
    t.hasOutput("DashboardName", { Value: { Ref: Match.stringLikeRegexp("Dashboard") } });
  });
});

describe("settings the synth cannot know", () => {
  it("writes a cluster given as a token unchecked, for the function to check when it starts", () => {
    const app = new App();
    const stack = new Stack(app, "Tokens", { env: { account: ACCOUNT, region: REGION } });
    const clusterName = new CfnParameter(stack, "ClusterName").valueAsString;
    new EcsDiscovery(stack, "Discovery", { entry: STUB_ENTRY, clusters: [clusterName] });
    expect(env(Template.fromStack(stack)).CLUSTERS).toEqual({ Ref: "ClusterName" });
  });
});
