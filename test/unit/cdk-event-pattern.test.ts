import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ACCOUNT, REGION, synthConstruct } from "../support/cdk.js";

/**
 * The subset of EventBridge pattern matching the rule uses: a list of values matches when the field equals one
 * of them, an object recurses, `$or` needs one of its alternatives. A field absent from the event never matches.
 */
function matches(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  return Object.entries(pattern).every(([key, want]) => {
    if (key === "$or") {
      return (want as Record<string, unknown>[]).some((alternative) => matches(alternative, event));
    }
    const have = event[key];
    if (Array.isArray(want)) return want.includes(have);
    if (typeof have !== "object" || have === null) return false;
    return matches(want as Record<string, unknown>, have as Record<string, unknown>);
  });
}

const fixture = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/aws-events/${name}`, import.meta.url), "utf8")) as Record<
    string,
    unknown
  > & {
    detail: Record<string, unknown>;
  };

function patternOf(props: Parameters<typeof synthConstruct>[0]): Record<string, unknown> {
  const { template } = synthConstruct(props);
  const rule = Object.values(template.findResources("AWS::Events::Rule")).find(
    (r) => r.Properties.EventPattern,
  );
  return rule?.Properties.EventPattern;
}

const everyCluster = patternOf({});
const withStatus = (lastStatus: string, desiredStatus: string) => {
  const event = fixture("task-state-change-ec2.json");
  const detail: Record<string, unknown> = { ...event.detail, lastStatus, desiredStatus };
  return { ...event, detail };
};

describe("ECS task event rule pattern", () => {
  it("takes both sample events of the ECS guide (RUNNING tasks)", () => {
    expect(matches(everyCluster, fixture("task-state-change-ec2.json"))).toBe(true);
    expect(matches(everyCluster, fixture("task-state-change-fargate.json"))).toBe(true);
  });
  it.each([
    ["RUNNING", "RUNNING", true],
    ["RUNNING", "STOPPED", true],
    ["DEACTIVATING", "STOPPED", true],
    ["STOPPING", "STOPPED", true],
    ["STOPPED", "STOPPED", true],
    ["PROVISIONING", "RUNNING", false],
    ["PENDING", "RUNNING", false],
    ["ACTIVATING", "RUNNING", false],
  ])("lastStatus %s, desiredStatus %s → %s", (last, desired, expected) => {
    expect(matches(everyCluster, withStatus(last, desired))).toBe(expected);
  });
  it("ignores other ECS events", () => {
    expect(
      matches(everyCluster, {
        ...withStatus("RUNNING", "RUNNING"),
        "detail-type": "ECS Container Instance State Change",
      }),
    ).toBe(false);
  });
  it("takes only the configured clusters' events when clusters are set", () => {
    const scoped = patternOf({ clusters: [`arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/default`] });
    expect(matches(scoped, withStatus("RUNNING", "RUNNING"))).toBe(false); // fixture's account is 111122223333 in us-east-1
    const ours = withStatus("RUNNING", "RUNNING");
    ours.detail.clusterArn = `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/default`;
    expect(matches(scoped, ours)).toBe(true);
    ours.detail.clusterArn = `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/other`;
    expect(matches(scoped, ours)).toBe(false);
  });
});
