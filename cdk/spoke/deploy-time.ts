/**
 * Optional settings that may be known only at deploy time. The spoke's template goes to CloudFormation
 * StackSets as it is, so its settings are parameters: an empty parameter means "not set", and what depends
 * on it is chosen by a condition (`Fn::If`) when the stack is deployed, not at synth.
 */
import { CfnCondition, Fn, Token } from "aws-cdk-lib";
import type { Construct } from "constructs";

/** Whether an optional setting is set: known at synth, or decided at deploy time by `condition`. */
export type Presence =
  | { readonly kind: "set" }
  | { readonly kind: "unset" }
  | { readonly kind: "deploy-time"; readonly condition: CfnCondition };

/**
 * The presence of `value`: a plain value is set unless empty; a token (a parameter) gets a condition `id`
 * that holds when it is not empty (a list parameter: when its items joined are not empty).
 */
export function presenceOf(
  scope: Construct,
  id: string,
  value: string | readonly string[] | undefined,
): Presence {
  if (value === undefined) return { kind: "unset" };
  if (!Token.isUnresolved(value)) {
    const empty = typeof value === "string" ? value === "" : value.every((v) => v === "");
    return { kind: empty ? "unset" : "set" };
  }
  const joined = typeof value === "string" ? value : Fn.join("", [...value]);
  const expression = Fn.conditionNot(Fn.conditionEquals(joined, ""));
  return { kind: "deploy-time", condition: new CfnCondition(scope, id, { expression }) };
}

/** `whenSet` or `whenUnset`, as the presence says; at deploy time, an `Fn::If`. */
export function choose<T>(presence: Presence, whenSet: T, whenUnset: T): T {
  if (presence.kind === "set") return whenSet;
  if (presence.kind === "unset") return whenUnset;
  return Fn.conditionIf(presence.condition.logicalId, whenSet, whenUnset) as unknown as T;
}

/** `choose` for a list of strings (IAM resources, condition values). */
export function chooseList(presence: Presence, whenSet: string[], whenUnset: string[]): string[] {
  if (presence.kind !== "deploy-time") return choose(presence, whenSet, whenUnset);
  return Token.asList(Fn.conditionIf(presence.condition.logicalId, whenSet, whenUnset));
}

/** `choose` for a string. */
export function chooseString(presence: Presence, whenSet: string, whenUnset: string): string {
  if (presence.kind !== "deploy-time") return choose(presence, whenSet, whenUnset);
  return Token.asString(Fn.conditionIf(presence.condition.logicalId, whenSet, whenUnset));
}

/**
 * `names` (a list, or a list parameter) each as `{prefix}{name}{suffix}`. CloudFormation cannot map a list,
 * and `Fn::Join`'s delimiter must be a literal, so `prefix` and `suffix` must be literals too.
 */
export function eachWith(prefix: string, names: readonly string[], suffix = ""): string[] {
  if (!Token.isUnresolved(names)) return names.map((n) => `${prefix}${n}${suffix}`);
  const parts = [prefix, Fn.join(`${suffix},${prefix}`, [...names]), suffix].filter((p) => p !== "");
  return Fn.split(",", Fn.join("", parts));
}
