/**
 * The rules that decide which containers become targets: the docker label names a container opts in
 * with, an optional filter label, and selectors for task definitions that cannot carry labels. Built once
 * from the settings, then handed to the pure functions of `core/`.
 */
import type { DynamicExportMode, FilterSetting, SelectorSetting } from "../shared/settings.js";
import { serviceNameOf, type TaskDefinitionSpec, type TaskView } from "./model.js";
import { declaresEndpoints, type LabelNames } from "./scrape-labels.js";

export type { LabelNames };

/** A container must carry `name` (and, when `value` is set, exactly that value) to be considered. */
export type FilterLabel = FilterSetting;

/** A selector with its patterns compiled; each must match the whole name. */
export interface Selector {
  family?: RegExp;
  service?: RegExp;
  container?: RegExp;
  port: number;
  path?: string;
  scheme?: "http" | "https";
  job?: string;
}

export interface TargetRules {
  labels: LabelNames;
  filter?: FilterLabel;
  selectors: Selector[];
  /** Tag label families (cluster, service, task, EC2 instance). */
  includeTags: boolean;
  /** Service ARN, status (and tags, with includeTags), which cost DescribeServices calls. */
  includeServices: boolean;
  /** The old poller's global dynamic-port mode: only the dynamic-export label counts. */
  dynamicExportOnly: boolean;
}

function wholeName(pattern: string | undefined): RegExp | undefined {
  return pattern === undefined ? undefined : new RegExp(`^(?:${pattern})$`);
}

/** A selector as configured (patterns as strings, already checked) → its compiled form. */
export function compileSelector(setting: SelectorSetting): Selector {
  const { family, service, container, ...rest } = setting;
  const selector: Selector = { ...rest };
  for (const [key, value] of [
    ["family", family],
    ["service", service],
    ["container", container],
  ] as const) {
    const compiled = wholeName(value);
    if (compiled) selector[key] = compiled;
  }
  return selector;
}

export function compileRules(settings: {
  labels: LabelNames;
  filter?: FilterLabel;
  selectors: readonly SelectorSetting[];
  includeTags: boolean;
  includeServices?: boolean;
  dynamicExport?: DynamicExportMode;
}): TargetRules {
  const rules: TargetRules = {
    labels: settings.labels,
    selectors: settings.selectors.map(compileSelector),
    includeTags: settings.includeTags,
    includeServices: settings.includeServices ?? false,
    dynamicExportOnly: settings.dynamicExport === "only",
  };
  if (settings.filter) rules.filter = settings.filter;
  return rules;
}

export function filterAllows(labels: Record<string, string>, filter: FilterLabel | undefined): boolean {
  if (!filter) return true;
  const value = labels[filter.name];
  if (value === undefined) return false;
  return filter.value === undefined || value === filter.value;
}

/**
 * Whether a container opts in through its own labels under these rules: it declares an endpoint (with
 * `DYNAMIC_EXPORT=only`, only through the dynamic-export label) and carries the filter label, if any.
 */
export function optsIn(labels: Record<string, string>, rules: TargetRules): boolean {
  return (
    declaresEndpoints(labels, rules.labels, rules.dynamicExportOnly) && filterAllows(labels, rules.filter)
  );
}

/**
 * Whether any container of the task definition could become a target (or warn) under these rules: a task
 * for which this is false has nothing to scrape and is not recorded.
 */
function isRelevant(def: TaskDefinitionSpec, task: Pick<TaskView, "group">, rules: TargetRules): boolean {
  if (def.containers.some((c) => optsIn(c.dockerLabels, rules))) return true;
  const service = serviceNameOf(task.group);
  return rules.selectors.some(
    (s) =>
      (!s.family || s.family.test(def.family)) &&
      (!s.service || (service !== undefined && s.service.test(service))),
  );
}

/** The tasks whose task definition is known and relevant under these rules. */
export function relevantTasks<T extends Pick<TaskView, "group" | "taskDefinitionArn">>(
  tasks: readonly T[],
  taskDefinitions: ReadonlyMap<string, TaskDefinitionSpec>,
  rules: TargetRules,
): T[] {
  return tasks.filter((t) => {
    const def = taskDefinitions.get(t.taskDefinitionArn);
    return def !== undefined && isRelevant(def, t, rules);
  });
}
