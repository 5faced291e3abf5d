import { describe, expect, it } from "vitest";
import { checkPrefixes, readOutputSettings } from "../../lambda/shared/output-settings.js";
import {
  ConfigError,
  DEFAULT_LABEL_NAMES,
  type DiscoveryInput,
  discoveryEnvironment,
  LABEL_VARIABLES,
  NUMBER_SETTINGS,
  readDiscoverySettings,
} from "../../lambda/shared/settings.js";

describe("the settings contract", () => {
  it("reads back what the construct writes: discoveryEnvironment is the inverse of readDiscoverySettings", () => {
    const input: DiscoveryInput = {
      clusters: ["prod", "arn:aws:ecs:eu-west-1:123456789012:cluster/batch"],
      labels: { port: "com.example.port", jobName: "com.example.job" },
      filterLabel: "monitoring=on",
      selectors: [{ family: "legacy-.*", container: "app", port: 9100, path: "/metrics", scheme: "https" }],
      include: ["TAGS", "SERVICES"],
      dynamicExport: "only",
      maxConcurrency: 4,
      maxAttempts: 3,
      churnGuardPercent: 80,
      fullDescribeMinutes: 30,
    };
    expect(readDiscoverySettings(discoveryEnvironment(input))).toEqual({
      clusters: input.clusters,
      labels: { ...DEFAULT_LABEL_NAMES, port: "com.example.port", jobName: "com.example.job" },
      filter: { name: "monitoring", value: "on" },
      selectors: input.selectors,
      includeTags: true,
      includeServices: true,
      dynamicExport: "only",
      maxConcurrency: 4,
      maxAttempts: 3,
      churnGuardPercent: 80,
      fullDescribeMinutes: 30,
    });
  });

  it("writes nothing for settings left out, so the function's defaults apply", () => {
    expect(discoveryEnvironment({})).toEqual({});
    const defaults = readDiscoverySettings({});
    for (const [setting, { default: value }] of Object.entries(NUMBER_SETTINGS))
      expect(defaults[setting as keyof typeof NUMBER_SETTINGS]).toBe(value);
    expect(defaults.labels).toEqual(DEFAULT_LABEL_NAMES);
  });

  it("has a variable for every label name", () => {
    expect(Object.keys(LABEL_VARIABLES).sort()).toEqual(Object.keys(DEFAULT_LABEL_NAMES).sort());
  });

  it.each([
    ["SELECTORS", { selectors: [{ family: "(", port: 9100 }] }],
    ["SELECTORS", { selectors: [{ container: "app", port: 9100 }] }],
    ["PORT_LABEL", { labels: { port: "a=b" } }],
    ["FILTER_LABEL", { filterLabel: "=x" }],
    ["CLUSTERS", { clusters: ["not/a/cluster"] }],
    ["MAX_CONCURRENCY", { maxConcurrency: 65 }],
    ["CHURN_GUARD_PERCENT", { churnGuardPercent: 0 }],
  ] as [string, DiscoveryInput][])("refuses to write a bad %s", (variable, input) => {
    expect(() => discoveryEnvironment(input)).toThrow(ConfigError);
    expect(() => discoveryEnvironment(input)).toThrow(new RegExp(`^configuration: ${variable} `));
  });

  it("treats a blank variable as unset", () => {
    expect(readDiscoverySettings({ MAX_ATTEMPTS: "  ", CLUSTERS: "" })).toMatchObject({
      maxAttempts: 6,
      clusters: [],
    });
    expect(readOutputSettings({ TARGETS_BUCKET: "b-1", TARGETS_PREFIX: " " })).toEqual({
      bucket: "b-1",
      prefix: "targets/",
      statePrefix: "state/",
    });
  });
});

describe("TARGETS_BUCKET_REGION", () => {
  it("is the central bucket's region, checked", () => {
    expect(readOutputSettings({ TARGETS_BUCKET: "b-1", TARGETS_BUCKET_REGION: "eu-west-1" })).toMatchObject({
      bucketRegion: "eu-west-1",
    });
    expect(() => readOutputSettings({ TARGETS_BUCKET: "b-1", TARGETS_BUCKET_REGION: "europe" })).toThrow(
      /TARGETS_BUCKET_REGION is not an AWS region name: "europe"/,
    );
  });
});

describe("one prefix rule, wherever a prefix is set", () => {
  it.each([
    ["targets/", "state/"],
    ["sd/prod/", "sd/state/"],
    ["a/", "b/"],
  ])("accepts %s with %s", (prefix, statePrefix) => {
    expect(checkPrefixes(prefix, statePrefix)).toEqual({ prefix, statePrefix });
  });

  it.each([
    ["", "state/", "TARGETS_PREFIX"],
    ["targets", "state/", "TARGETS_PREFIX"],
    ["/targets/", "state/", "TARGETS_PREFIX"],
    ["a/../b/", "state/", "TARGETS_PREFIX"],
    ["my targets/", "state/", "TARGETS_PREFIX"],
    ["t*/", "state/", "TARGETS_PREFIX"],
    ["targets/", "st?te/", "STATE_PREFIX"],
    ["targets/", "targets/state/", "STATE_PREFIX"],
    ["state/targets/", "state/", "STATE_PREFIX"],
    ["same/", "same/", "STATE_PREFIX"],
  ])("refuses %s with %s, naming %s", (prefix, statePrefix, variable) => {
    expect(() => checkPrefixes(prefix, statePrefix)).toThrow(new RegExp(`^configuration: ${variable} `));
  });

  it("names the setting as the caller calls it (a flag, a construct prop)", () => {
    expect(() =>
      checkPrefixes("sd/", "sd/state/", { prefix: "--prefix", statePrefix: "--state-prefix" }),
    ).toThrow(/^configuration: --state-prefix .*must not overlap/);
  });
});
