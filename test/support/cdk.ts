import { fileURLToPath } from "node:url";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { EcsDiscovery, type EcsDiscoveryProps } from "../../cdk/ecs-discovery-construct.js";

/** A tiny handler: bundling it is fast, and the CDK tests do not depend on the engine's progress. */
export const STUB_ENTRY = fileURLToPath(new URL("../fixtures/cdk/stub-handler.ts", import.meta.url));

export const ACCOUNT = "111122223333";
export const REGION = "eu-west-1";

/** A stack holding one construct with `props` (stub handler unless `entry` is given), and its template. */
export function synthConstruct(
  props: EcsDiscoveryProps = {},
  extend?: (stack: Stack, discovery: EcsDiscovery) => void,
): { stack: Stack; discovery: EcsDiscovery; template: Template } {
  const app = new App();
  const stack = new Stack(app, "Test", { env: { account: ACCOUNT, region: REGION } });
  const discovery = new EcsDiscovery(stack, "Discovery", { entry: STUB_ENTRY, ...props });
  discovery.addOutputs(stack);
  extend?.(stack, discovery);
  return { stack, discovery, template: Template.fromStack(stack) };
}

export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

/**
 * Every statement of every policy of the given types in the template, with where it sits; by default the
 * identity policies, inline and managed.
 */
export function policyStatements<S extends Statement = Statement>(
  template: Template,
  types: readonly string[] = ["AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"],
): { owner: string; statement: S }[] {
  const out: { owner: string; statement: S }[] = [];
  for (const type of types) {
    for (const [id, resource] of Object.entries(template.findResources(type))) {
      const statements = (resource.Properties?.PolicyDocument?.Statement ?? []) as S[];
      for (const statement of statements) out.push({ owner: id, statement });
    }
  }
  return out;
}

export const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** `{Fn::Join: ["", [...]]}` and friends as one comparable string (`${Logical.Arn}/targets/*`). */
export function flatten(value: unknown): string {
  if (typeof value === "string") return value;
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (Array.isArray(o["Fn::Join"])) {
      const [sep, parts] = o["Fn::Join"] as [string, unknown[]];
      return parts.map(flatten).join(sep);
    }
    if (Array.isArray(o["Fn::GetAtt"])) return `\${${(o["Fn::GetAtt"] as string[]).join(".")}}`;
    if (typeof o.Ref === "string") return `\${${o.Ref}}`;
  }
  return JSON.stringify(value);
}
