/**
 * One cluster's refresh: read its objects → compute the next state and its targets → commit, again from
 * the top when a concurrent run committed in between. Any failure leaves both objects as they were.
 */
import type { ClusterInfo, ClusterRef, TaskView } from "../core/model.js";
import { seedCaches } from "../discovery/caches.js";
import type { ObjectRef } from "../publish/target-output.js";
import { isClusterGone, isThrottle } from "../shared/aws-errors.js";
import { DEFAULT_MAX_OBJECT_BYTES } from "../shared/file-sd.js";
import { describeError } from "../shared/values.js";
import { deriveTargets } from "../state/memo.js";
import { commit, readState } from "./cluster-objects.js";
import type { EngineDeps } from "./deps.js";
import { nextState } from "./next-state.js";
import { type ClusterCounts, type ClusterOutcome, type ClusterResult, emptyCounts } from "./summary.js";

/**
 * Whole read-compute-commit rounds of one cluster. During a storm two queue-driven invocations work on the
 * same cluster at once; without a randomized pause the slower one can lose every round to the faster one
 * and hand its whole batch back to SQS, whose visibility timeout is many minutes.
 */
const CONFLICT_ATTEMPTS = 8;

/** Full jitter: a random pause up to 50 ms · 2^attempt, capped at 2 s. */
export function conflictBackoffMs(attempt: number, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(2_000, 50 * 2 ** attempt));
}

export interface ClusterWork {
  cluster: ClusterRef;
  /** Task events to apply to the recorded state; absent for a full listing. */
  events?: readonly TaskView[];
  /** The cluster's tags, when the run's listing described them. */
  clusterInfo?: ClusterInfo;
  dryRun: boolean;
  force: boolean;
  /** Describe every listed task, whatever the recorded state knows (a resync). */
  fullDescribe: boolean;
}

function addCounts(total: ClusterCounts, part: ClusterCounts): void {
  total.warnings += part.warnings;
  total.heldBack += part.heldBack;
  for (const key of ["applied", "stale", "ignored"] as const) total.events[key] += part.events[key];
  total.drift.added += part.drift.added;
  total.drift.removed += part.drift.removed;
}

/** One cluster's objects and what a round needs to know about them. */
interface Round {
  deps: EngineDeps;
  work: ClusterWork;
  ref: ObjectRef;
  object: string;
  remember: boolean;
  counts: ClusterCounts;
}

export async function refreshCluster(deps: EngineDeps, work: ClusterWork): Promise<ClusterResult> {
  const { cluster, events } = work;
  const ref = { accountId: cluster.accountId, region: cluster.region, name: cluster.name };
  const round: Round = {
    deps,
    work,
    ref,
    object: deps.output.locationOf(ref),
    // Clusters that events touch are worth keeping parsed and derived between invocations; a reconcile
    // of the others would only fill the memory of a warm function with what it is unlikely to need.
    remember: events !== undefined || deps.caches.memo.states.has(cluster.arn),
    counts: emptyCounts(),
  };
  try {
    for (let attempt = 1; attempt <= CONFLICT_ATTEMPTS; attempt++) {
      const result = await readComputeCommit(round);
      if (result !== "conflict") return result;
      deps.log.info("objects changed since they were read; reading again", {
        cluster: cluster.name,
        attempt,
      });
      await (deps.sleep ?? sleep)(conflictBackoffMs(attempt));
    }
    throw new Error(`objects kept changing under concurrent runs (${CONFLICT_ATTEMPTS} attempts)`);
  } catch (error) {
    return notPublished(round, error);
  }
}

/** One round: read both objects, compute the next state and its targets, commit them conditionally. */
async function readComputeCommit(round: Round): Promise<ClusterResult | "conflict"> {
  const { deps, work, ref, remember, counts } = round;
  const { output, caches, log } = deps;
  const { cluster } = work;
  const [{ stored, state }, storedTargets] = await Promise.all([
    readState(output, caches.memo, log, ref, cluster.arn, remember),
    work.dryRun ? Promise.resolve(undefined) : output.read(ref),
  ]);
  seedCaches(caches, state);
  const step = await nextState(
    {
      deps,
      cluster,
      force: work.force,
      fullDescribe: work.fullDescribe,
      remember,
      ...(work.clusterInfo ? { clusterInfo: work.clusterInfo } : {}),
    },
    state,
    work.events,
  );
  addCounts(counts, step.counts);
  const built = step.built ?? deriveTargets(step.next, deps.config.rules, caches.memo, remember);
  for (const w of built.warnings) {
    log.warn(w.message, { cluster: cluster.name, task: w.taskArn, container: w.container, label: w.label });
  }
  counts.warnings += built.warnings.length;
  if (step.mode === "reconcile") counts.warnings += warnIfTooLarge(deps, cluster, built.lines);
  const outcome: ClusterOutcome = {
    cluster: cluster.name,
    mode: step.mode,
    status: "dry-run",
    tasks: Object.keys(step.next.tasks).length,
    targets: built.groups.length,
    skippedContainers: built.skipped,
    object: round.object,
  };
  if (work.dryRun) return { outcome, counts, groups: built.groups };
  const result = await commit(output, caches.memo, {
    ref,
    next: step.next,
    lines: built.lines,
    storedState: stored,
    storedTargets,
    remember,
  });
  if (result === "conflict") return result;
  if (result === "written")
    log.info("published", { cluster: cluster.name, targets: built.groups.length, object: round.object });
  if (!step.held) return { outcome: { ...outcome, status: result }, counts };
  return {
    outcome: { ...outcome, status: "held-back", ...(step.reason ? { reason: step.reason } : {}) },
    counts,
  };
}

/**
 * Readers refuse objects over DEFAULT_MAX_OBJECT_BYTES unless told otherwise (the sidecar's
 * SIDECAR_MAX_OBJECT_SIZE): say so where the operator looks first. Checked by reconciles only (sizes grow
 * slowly, and events must stay cheap), on the UTF-16 length, which is the byte size for ASCII labels.
 */
function warnIfTooLarge(deps: EngineDeps, cluster: ClusterRef, lines: readonly string[]): number {
  let size = 4;
  for (const line of lines) size += line.length + 2;
  if (size <= DEFAULT_MAX_OBJECT_BYTES) return 0;
  deps.log.warn("targets object is larger than readers accept by default; raise SIDECAR_MAX_OBJECT_SIZE", {
    cluster: cluster.name,
    bytes: size,
    defaultLimit: DEFAULT_MAX_OBJECT_BYTES,
  });
  return 1;
}

/** A cluster that could not be published keeps its objects; a deleted one waits for clean-up. */
function notPublished(round: Round, error: unknown): ClusterResult {
  const { deps, work, counts } = round;
  const cluster = work.cluster.name;
  const gone = isClusterGone(error);
  if (gone) {
    deps.log.warn("cluster no longer exists; its object goes with the next complete listing", { cluster });
  } else {
    deps.log.error("cluster not published; its last object stays in place", {
      cluster,
      error: describeError(error),
      throttled: isThrottle(error),
    });
  }
  const outcome: ClusterOutcome = {
    cluster,
    mode: work.events ? "events" : "reconcile",
    status: gone ? "gone" : "failed",
    tasks: 0,
    targets: 0,
    object: round.object,
    error: describeError(error),
  };
  return { outcome, counts };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
