import { groupLine, sortedUnique } from "../shared/file-sd.js";
import type { ClusterMeta } from "./group-labels.js";
import type { HostInfo, TaskDefinitionSpec, TaskView } from "./model.js";
import type { TargetRules } from "./rules.js";
import { addSkipCounts, type SkipCounts } from "./skip-reasons.js";
import { type BuiltGroup, judgeTask, type TargetWarning } from "./verdicts.js";

export type { BuiltGroup, TargetWarning };

export interface BuildInput {
  tasks: TaskView[];
  taskDefinitions: ReadonlyMap<string, TaskDefinitionSpec>;
  hosts: ReadonlyMap<string, HostInfo>;
  rules: TargetRules;
  /** The cluster's tags and services, for their labels. */
  meta?: ClusterMeta;
}

export interface BuildResult {
  groups: BuiltGroup[];
  /** Each group's line in the file, in the same order. */
  lines: string[];
  warnings: TargetWarning[];
  /** Containers of the tasks that gave no target, by reason. */
  skipped: SkipCounts;
}

/**
 * One task's share of the output: its groups normalized (targets and label keys sorted), each with the
 * line it takes in the file, the warnings it raised and its containers that gave no target, by reason.
 * Depends only on the task, its task definition, its host and the rules, so a caller may keep it for as
 * long as those stay the same.
 */
export interface TaskTargets {
  groups: BuiltGroup[];
  lines: string[];
  warnings: TargetWarning[];
  skipped: SkipCounts;
}

export function buildTaskTargets(
  task: TaskView,
  taskDefinitions: ReadonlyMap<string, TaskDefinitionSpec>,
  hosts: ReadonlyMap<string, HostInfo>,
  rules: TargetRules,
  meta: ClusterMeta = {},
): TaskTargets {
  const def = taskDefinitions.get(task.taskDefinitionArn);
  const { verdicts, warnings } = judgeTask(task, def, hosts, rules, meta);
  const groups: BuiltGroup[] = [];
  const skipped: SkipCounts = {};
  for (const v of verdicts) {
    if (v.reason === "target") groups.push(...v.groups);
    else skipped[v.reason] = (skipped[v.reason] ?? 0) + 1;
  }
  return { groups, lines: groups.map(groupLine), warnings, skipped };
}

/**
 * Turns described tasks into file_sd target groups, one per endpoint, sorted. Pure: everything it needs
 * (task definitions, hosts) is passed in, so the Lambda, the CLI and the benchmarks share it. `perTask`
 * lets a caller reuse the share of tasks that did not change (the engine's warm event path).
 */
export function buildTargetGroups(
  input: BuildInput,
  perTask: (task: TaskView) => TaskTargets = (task) =>
    buildTaskTargets(task, input.taskDefinitions, input.hosts, input.rules, input.meta),
): BuildResult {
  const warnings: TargetWarning[] = [];
  const skipped: SkipCounts = {};
  const entries: { line: string; group: BuiltGroup }[] = [];
  for (const task of input.tasks) {
    const share = perTask(task);
    share.groups.forEach((group, i) => {
      entries.push({ line: share.lines[i] as string, group });
    });
    warnings.push(...share.warnings);
    addSkipCounts(skipped, share.skipped);
  }
  return { ...sortedUnique(entries), warnings, skipped };
}
