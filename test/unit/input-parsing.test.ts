import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadEngineConfig, loadLambdaConfig } from "../../lambda/config.js";
import { ConfigError } from "../../lambda/shared/settings.js";
import { InputError, parseTrigger } from "../../lambda/triggers/parse-trigger.js";

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/aws-events/${name}`, import.meta.url), "utf-8"));

describe("configuration", () => {
  it("has the old tool's label names by default", () => {
    const config = loadEngineConfig({});
    expect(config.rules.labels.port).toBe("PROMETHEUS_EXPORTER_PORT");
    expect(config.clusters).toEqual([]);
    expect(config.rules.includeTags).toBe(false);
  });

  it("reads every variable", () => {
    const config = loadEngineConfig({
      CLUSTERS: "prod, arn:aws:ecs:us-east-1:123456789012:cluster/staging",
      PORT_LABEL: "com.prometheus-ecs-discovery.port",
      FILTER_LABEL: "SCRAPE=yes",
      INCLUDE: "TAGS",
      MAX_CONCURRENCY: "4",
      SELECTORS: '[{"family":"legacy-.*","port":9100}]',
    });
    expect(config.clusters).toEqual(["prod", "arn:aws:ecs:us-east-1:123456789012:cluster/staging"]);
    expect(config.rules.labels.port).toBe("com.prometheus-ecs-discovery.port");
    expect(config.rules.filter).toEqual({ name: "SCRAPE", value: "yes" });
    expect(config.rules.includeTags).toBe(true);
    expect(config.maxConcurrency).toBe(4);
    expect(config.rules.selectors[0]?.family?.test("legacy-api")).toBe(true);
    expect(config.rules.selectors[0]?.family?.test("not-legacy-api")).toBe(false);
  });

  it.each([
    ["CLUSTERS", { CLUSTERS: "has space/slash" }],
    ["MAX_CONCURRENCY", { MAX_CONCURRENCY: "lots" }],
    ["MAX_ATTEMPTS", { MAX_ATTEMPTS: "0" }],
    ["PORT_LABEL", { PORT_LABEL: "a=b" }],
    ["FILTER_LABEL", { FILTER_LABEL: "=x" }],
    ["INCLUDE", { INCLUDE: "TASKS" }],
    ["SELECTORS", { SELECTORS: "{" }],
    ["SELECTORS", { SELECTORS: '[{"port":9100}]' }],
    ["SELECTORS", { SELECTORS: '[{"family":"(","port":9100}]' }],
    ["SELECTORS", { SELECTORS: '[{"family":"x","port":0}]' }],
    ["SELECTORS", { SELECTORS: '[{"family":"x","port":1,"paht":"/m"}]' }],
  ])("names %s when it is bad", (variable, env) => {
    expect(() => loadEngineConfig(env)).toThrow(ConfigError);
    expect(() => loadEngineConfig(env)).toThrow(new RegExp(`^configuration: ${variable} `));
  });

  it.each([
    ["TARGETS_BUCKET", {}],
    ["TARGETS_BUCKET", { TARGETS_BUCKET: "Not_A_Bucket" }],
    ["TARGETS_PREFIX", { TARGETS_BUCKET: "b-1", TARGETS_PREFIX: "/abs/" }],
    ["TARGETS_PREFIX", { TARGETS_BUCKET: "b-1", TARGETS_PREFIX: "no-slash" }],
    ["TARGETS_PREFIX", { TARGETS_BUCKET: "b-1", TARGETS_PREFIX: "a*/" }],
    ["STATE_PREFIX", { TARGETS_BUCKET: "b-1", TARGETS_PREFIX: "sd/", STATE_PREFIX: "sd/state/" }],
    ["STATE_PREFIX", { TARGETS_BUCKET: "b-1", TARGETS_PREFIX: "state/targets/" }],
  ])("the Lambda names %s when it is missing or bad", (variable, env) => {
    expect(() => loadLambdaConfig(env)).toThrow(new RegExp(`^configuration: ${variable} `));
  });
});

describe("handler input", () => {
  it("recognises the AWS sample events", () => {
    const fargate = parseTrigger(fixture("task-state-change-fargate.json"));
    expect(fargate).toMatchObject({
      kind: "task-event",
      clusterArn: "arn:aws:ecs:us-west-2:111122223333:cluster/FargateCluster",
      region: "us-west-2",
    });
    expect(parseTrigger(fixture("task-state-change-ec2.json"))).toMatchObject({
      kind: "task-event",
      region: "us-east-1",
    });
    expect(parseTrigger(fixture("scheduled-event.json"))).toEqual({ kind: "schedule" });
  });

  it("reads manual payloads", () => {
    expect(parseTrigger({ action: "resync" })).toEqual({ kind: "resync", dryRun: false, force: false });
    expect(parseTrigger({ action: "resync", dryRun: true, clusters: ["a"], force: true })).toEqual({
      kind: "resync",
      dryRun: true,
      force: true,
      clusters: ["a"],
    });
  });

  it.each([
    [null, /expected an "ECS Task State Change" event/],
    ["resync", /expected/],
    [[], /expected/],
    [{}, /expected/],
    [{ action: "purge" }, /unknown action "purge"/],
    [{ action: "resync", dryRun: "yes" }, /"dryRun" must be true or false/],
    [{ action: "resync", clusters: [] }, /"clusters" must be a non-empty array/],
    [{ action: "resync", clusters: ["a b"] }, /neither an ECS cluster name nor a cluster ARN/],
    [{ action: "resync", purge: true }, /unknown field\(s\) "purge"/],
    [{ action: "resync", force: "yes" }, /"force" must be true or false/],
    [{ source: "aws.ecs", "detail-type": "ECS Service Action" }, /unsupported event/],
    [{ source: "aws.ecs", "detail-type": "ECS Task State Change" }, /no "detail" object/],
    [
      {
        source: "aws.ecs",
        "detail-type": "ECS Task State Change",
        detail: { clusterArn: "x", taskArn: "y" },
      },
      /detail.clusterArn/,
    ],
    [
      {
        source: "aws.ecs",
        "detail-type": "ECS Task State Change",
        detail: { clusterArn: "arn:aws:ecs:us-east-1:123456789012:cluster/a" },
      },
      /detail.taskArn/,
    ],
  ])("rejects %j with a clear message", (input, message) => {
    expect(() => parseTrigger(input)).toThrow(InputError);
    expect(() => parseTrigger(input)).toThrow(message);
  });

  it("tolerates unknown fields, as AWS may add them", () => {
    const event = { ...fixture("task-state-change-fargate.json"), newTopLevel: 1 };
    event.detail.someNewField = { nested: true };
    expect(parseTrigger(event)).toMatchObject({ kind: "task-event" });
  });
});
