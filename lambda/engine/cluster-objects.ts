/**
 * Reading and committing one cluster's two objects: its state (the engine's record) and its targets (the
 * file_sd JSON). Writes are conditional on what was read, so concurrent runs never lose an update.
 */

import type { ObjectRef, StoredObject, TargetOutput } from "../publish/target-output.js";
import { serializeLines } from "../shared/file-sd.js";
import { type ClusterState, parseState } from "../state/cluster-state.js";
import type { ClusterMemo } from "../state/memo.js";
import { serializeRemembered } from "../state/memo.js";
import type { Log } from "./deps.js";

// A conflicting targets write means another run published in between; read again and retry a few times.
const PUBLISH_ATTEMPTS = 4;

export type CommitResult = "written" | "unchanged" | "conflict";

/**
 * The stored state of a cluster. `remember`: keep the parsed state for later invocations (event-driven
 * runs; see StateMemo). A state that cannot be read is as good as none: a full listing rebuilds it.
 */
export async function readState(
  output: TargetOutput,
  memo: ClusterMemo,
  log: Log,
  ref: ObjectRef,
  clusterArn: string,
  remember: boolean,
): Promise<{ stored?: StoredObject; state?: ClusterState }> {
  const stored = await output.read(ref, "state");
  if (!stored) return {};
  // The object this process last read or wrote: parsing it again would only rebuild the same records.
  const remembered = memo.states.get(clusterArn);
  if (remembered && remembered.etag !== "" && remembered.etag === stored.etag)
    return { stored, state: remembered.state };
  const state = parseState(stored.body, clusterArn);
  if (!state) {
    log.warn("stored state is unreadable; rebuilding it from a full listing", {
      object: output.locationOf(ref, "state"),
    });
    return { stored };
  }
  memo.states.remember(clusterArn, stored.etag, state, remember);
  return { stored, state };
}

export interface Commit {
  ref: ObjectRef;
  next: ClusterState;
  /** The targets' lines, as built from `next`. */
  lines: readonly string[];
  storedState: StoredObject | undefined;
  storedTargets: StoredObject | undefined;
  remember: boolean;
}

/**
 * The state is the commit point: it is written first, conditionally. The targets follow, also
 * conditionally; if another run wrote them meanwhile, they are only retried while our state is still the
 * newest (a newer state's writer publishes its own targets).
 */
export async function commit(output: TargetOutput, memo: ClusterMemo, c: Commit): Promise<CommitResult> {
  const stateBody = serializeRemembered(c.next, memo, c.remember);
  let stateEtag = c.storedState?.etag;
  if (stateBody !== c.storedState?.body) {
    stateEtag = await output.write(c.ref, stateBody, c.storedState, "state");
    if (stateEtag === undefined) return "conflict";
  }
  if (stateEtag) memo.states.remember(c.next.clusterArn, stateEtag, c.next, c.remember);
  const body = serializeLines(c.lines);
  let expected = c.storedTargets;
  for (let attempt = 0; attempt < PUBLISH_ATTEMPTS; attempt++) {
    if (expected?.body === body) return attempt === 0 ? "unchanged" : "written";
    if ((await output.write(c.ref, body, expected)) !== undefined) return "written";
    const latest = await output.read(c.ref, "state");
    if (latest?.etag !== stateEtag) return "written";
    expected = await output.read(c.ref);
  }
  return "conflict";
}
