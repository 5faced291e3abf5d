/**
 * Why a container is or is not a target: one code per container, the same for `explain`, the reconcile's
 * skipped-container counts and their metrics. The codes are a contract (scripts match on them).
 * The reconcile counts the containers of the tasks it records: tasks with at least one container that asks
 * to be scraped. A task none of whose containers asks (every container filtered out, say: another team's
 * on a shared cluster) is not counted, and a task whose definition ECS refuses is a warning instead;
 * `explain` judges every container it is asked about.
 */
export const SKIP_REASONS = [
  "no-port-label",
  "filtered-out",
  "not-running",
  "no-host-port",
  "bad-label",
  "no-ec2-host",
  "injected-container",
  "definition-unavailable",
  "cluster-not-discovered",
] as const;

export type SkipReason = (typeof SKIP_REASONS)[number];

/** `target`: the container gives at least one target; otherwise the first reason it gives none. */
export type Reason = "target" | SkipReason;

/** Skipped containers by reason; reasons with none are absent. */
export type SkipCounts = Partial<Record<SkipReason, number>>;

export function addSkipCounts(into: SkipCounts, from: SkipCounts): void {
  for (const [reason, n] of Object.entries(from) as [SkipReason, number][])
    into[reason] = (into[reason] ?? 0) + n;
}

export function totalSkipped(counts: SkipCounts): number {
  let sum = 0;
  for (const n of Object.values(counts)) sum += n;
  return sum;
}
