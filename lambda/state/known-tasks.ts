/**
 * Which listed tasks a reconcile must describe. A running task's network bindings, addresses and
 * definition never change, and every change that matters for its targets comes with a new `version` in a
 * task state change event; so a task the state already records as running, with complete data, needs no
 * DescribeTasks to be listed again. Pure: the reconcile passes what it listed and the recorded state.
 */
import { isScrapeable } from "../core/model.js";
import { relevantTasks, type TargetRules } from "../core/rules.js";
import type { ClusterState, OtherTask, TaskRecord } from "./cluster-state.js";

export interface ListingPlan {
  /** Task ARNs to describe: new, not yet running, incomplete, or whose health may still be settling. */
  describe: string[];
  /** Recorded tasks taken as they are. */
  known: TaskRecord[];
  /** Recorded tasks with nothing to scrape, still listed and still with nothing to scrape. */
  others: Record<string, OtherTask>;
}

/**
 * Why a recorded task must be described again, or undefined when its record is as good as a describe.
 * Health is the one fact that changes while a task runs without an event: a task whose definition has
 * health checks is described until ECS calls it HEALTHY (from then on it changes only when a check fails,
 * which for a service's task ends in a stop event; the periodic full describe catches the rest).
 */
export function staleBecause(
  record: TaskRecord,
  state: ClusterState,
  rules: TargetRules,
): string | undefined {
  if (!isScrapeable(record)) return "not running";
  if (record.version === undefined) return "no version";
  if (record.healthStatus === undefined) return "no health";
  if (rules.includeTags && record.tags === undefined) return "no tags";
  // A Fargate ENI's public address not yet looked up: described afresh, so the record itself is never
  // completed in place (memos derived from it stay valid because it never changes).
  if (record.eniId && !record.containerInstanceArn && record.publicIp === undefined)
    return "no public address";
  const def = state.taskDefinitions[record.taskDefinitionArn];
  if (def?.healthChecks === undefined) return "definition not known";
  if (def.healthChecks && record.healthStatus !== "HEALTHY") return "health settling";
  return undefined;
}

function stillOther(task: OtherTask, state: ClusterState, rules: TargetRules): boolean {
  const def =
    state.otherTaskDefinitions?.[task.taskDefinitionArn] ?? state.taskDefinitions[task.taskDefinitionArn];
  if (def?.healthChecks === undefined) return false;
  return relevantTasks([task], new Map([[def.taskDefinitionArn, def]]), rules).length === 0;
}

/** Splits a listing: `full` (or no state) describes everything, as the first reconcile must. */
export function planListing(
  listed: readonly string[],
  state: ClusterState | undefined,
  rules: TargetRules,
  full: boolean,
): ListingPlan {
  const plan: ListingPlan = { describe: [], known: [], others: {} };
  if (!state || full) {
    plan.describe = [...listed];
    return plan;
  }
  for (const arn of listed) {
    const record = state.tasks[arn];
    if (record) {
      if (staleBecause(record, state, rules) === undefined) plan.known.push(record);
      else plan.describe.push(arn);
      continue;
    }
    const other = state.otherTasks?.[arn];
    // Rules change with a deployment: a task that had nothing to scrape may have something now.
    if (other && stillOther(other, state, rules)) plan.others[arn] = other;
    else plan.describe.push(arn);
  }
  return plan;
}
