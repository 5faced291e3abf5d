import { readFileSync } from "node:fs";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { buildApp, stackName } from "../../cdk/build-app.js";
import { parseRegions, parseSettings, settingsForRegion } from "../../cdk/settings.js";
import { STUB_ENTRY } from "../support/cdk.js";

const cdkJson = JSON.parse(readFileSync(new URL("../../cdk.json", import.meta.url), "utf8"));

describe("cdk.json", () => {
  it("runs the app with tsx", () => {
    expect(cdkJson.app).toBe("npx tsx cdk/app.ts");
  });
  it("lists at least two valid regions", () => {
    const regions = parseRegions(cdkJson.context.regions);
    expect(regions.length).toBeGreaterThanOrEqual(2);
  });
  it("has settings the app accepts", () => {
    expect(() => parseSettings(cdkJson.context.discovery)).not.toThrow();
  });
});

describe("the app synthesizes one stack per region", () => {
  const regions = ["eu-west-1", "us-east-1"];
  const { app, stacks } = buildApp({
    context: { ...cdkJson.context, regions },
    overrides: { entry: STUB_ENTRY },
  });
  const assembly = app.synth();

  it("names one stack per region", () => {
    expect(assembly.stacks.map((s) => s.stackName).sort()).toEqual(regions.map(stackName));
  });
  it("pins each stack to its region", () => {
    expect(assembly.stacks.map((s) => s.environment.region).sort()).toEqual(regions);
  });
  it("puts each region's region into its resync command", () => {
    for (const stack of stacks) {
      const output = Template.fromStack(stack).findOutputs("ResyncCommand");
      expect(JSON.stringify(output)).toContain(`--region ${stack.region} `);
    }
  });
  it("passes cdk-nag in every region", () => {
    expect(new AwsSolutionsChecks(app).validateScope(app).violations).toEqual([]);
  });
});

describe("context parsing", () => {
  it("reads -c regions=a,b", () => {
    expect(parseRegions("eu-west-1, us-east-1")).toEqual(["eu-west-1", "us-east-1"]);
  });
  it("reads a JSON list given with -c", () => {
    expect(parseRegions('["ap-southeast-2"]')).toEqual(["ap-southeast-2"]);
  });
  it("rejects a missing or wrong region", () => {
    expect(() => parseRegions(undefined)).toThrow(/at least one region/);
    expect(() => parseRegions("eu-west-1,Europe")).toThrow(/"Europe"/);
  });
  it("rejects an unknown setting", () => {
    expect(() => parseSettings({ cluster: ["x"] })).toThrow(/unknown setting "cluster"/);
  });
  it("reads settings given as JSON with -c", () => {
    expect(parseSettings('{"clusters":["prod"]}')).toEqual({ clusters: ["prod"] });
  });
  it("applies byRegion and fills in {region}", () => {
    const props = settingsForRegion(
      {
        clusters: ["prod"],
        alarmTopicArn: "arn:aws:sns:{region}:111122223333:oncall",
        existingBucketName: "targets-{region}",
        reconcileIntervalMinutes: 10,
        byRegion: { "us-east-1": { clusters: ["prod-us"] } },
      },
      "us-east-1",
    );
    expect(props.clusters).toEqual(["prod-us"]);
    expect(props.alarmTopicArn).toBe("arn:aws:sns:us-east-1:111122223333:oncall");
    expect(props.existingBucketName).toBe("targets-us-east-1");
    expect(props.reconcileInterval?.toMinutes()).toBe(10);
  });
});
