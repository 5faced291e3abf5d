import * as iam from "aws-cdk-lib/aws-iam";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../cdk/build-app.js";
import { STUB_ENTRY } from "../support/cdk.js";

/** The app as `cdk synth` builds it (cdk-nag plugin included), for one region, on the stub handler. */
function nagApp() {
  const built = buildApp({ context: { regions: ["eu-west-1"] }, overrides: { entry: STUB_ENTRY } });
  const stack = built.stacks[0];
  if (!stack) throw new Error("no stack");
  return { ...built, stack };
}

const ruleNames = (app: ReturnType<typeof nagApp>["app"]) =>
  new AwsSolutionsChecks(app).validateScope(app).violations.map((v) => v.ruleName);

describe("cdk-nag AwsSolutions", () => {
  const clean = nagApp();

  it("finds nothing unacknowledged in the stack", () => {
    const { app } = clean;
    expect(ruleNames(app)).toEqual([]);
    expect(() => app.synth()).not.toThrow();
  });

  it("finds nothing unacknowledged with clusters, an existing bucket and other prefixes either", () => {
    const { app } = buildApp({
      context: {
        regions: ["us-east-1"],
        discovery: {
          clusters: ["prod", "arn:aws:ecs:us-east-1:111122223333:cluster/batch"],
          existingBucketName: "shared-targets",
          targetsPrefix: "sd/",
          statePrefix: "engine/",
        },
      },
      overrides: { entry: STUB_ENTRY },
    });
    expect(ruleNames(app)).toEqual([]);
  });

  it("finds nothing unacknowledged with an existing alarm topic and an e-mail subscription either", () => {
    const { app } = buildApp({
      context: {
        regions: ["eu-west-1"],
        discovery: {
          alarmTopicArn: "arn:aws:sns:{region}:111122223333:oncall",
          alarmEmail: "oncall@example.com",
        },
      },
      overrides: { entry: STUB_ENTRY },
    });
    expect(ruleNames(app)).toEqual([]);
  });

  it("fails the synth when a finding is added", () => {
    const { app, stack } = nagApp();
    new sqs.Queue(stack, "PlainQueue"); // no TLS enforcement, no dead-letter queue
    expect(ruleNames(app)).toEqual(expect.arrayContaining(["AwsSolutions-SQS3", "AwsSolutions-SQS4"]));
    expect(() => app.synth()).toThrow();
  });

  it("acknowledges wildcards one resource at a time, so a new wildcard is still a finding", () => {
    const { app, stack } = nagApp();
    stack.discovery.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["s3:PutObject"],
        resources: [stack.discovery.bucket.arnForObjects("*")],
      }),
    );
    expect(ruleNames(app)).toEqual([
      expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<.*TargetsBucket.*\.Arn>\/\*\]$/),
    ]);
  });

  it("acknowledges only on the resources concerned, each with a reason", () => {
    const { app } = clean;
    const acknowledged: Record<string, string[]> = {};
    for (const construct of app.node.findAll()) {
      for (const entry of construct.node.metadata) {
        if (entry.type !== "aws:cdk:acknowledged-rules") continue;
        for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
          expect(reason.length, id).toBeGreaterThan(60);
          const rule = id.replace(/^Annotation::/, "");
          const where = construct.node.path.replace(/^.*?\/Discovery\//, "");
          acknowledged[where] = [...(acknowledged[where] ?? []), rule.replace(/\[.*$/, "")];
        }
      }
    }
    expect(acknowledged).toEqual({
      TargetsBucket: ["AwsSolutions-S1"],
      FunctionRole: Array(6).fill("AwsSolutions-IAM5"),
      Function: ["AwsSolutions-L1"],
      SidecarReadPolicy: ["AwsSolutions-IAM5"],
    });
  });
});
