/**
 * Clean-up after a complete reconcile: the objects of clusters the listing no longer returns are deleted.
 * Only ever the accounts and regions this run listed (and the function's own), so another deployment's
 * objects are never touched; a failed listing of the objects deletes nothing.
 */
import { parseClusterArn } from "../core/model.js";
import { describeError } from "../shared/values.js";
import type { EngineDeps } from "./deps.js";

/** Deletes the objects of vanished clusters; returns where each deleted cluster's targets were. */
export async function cleanUp(
  deps: EngineDeps,
  listedArns: readonly string[],
  /** Several accounts: only these were listed in full, so only their objects may go. */
  listedAccounts?: readonly string[],
): Promise<string[]> {
  const { output, log } = deps;
  const keep = new Map<string, Set<string>>();
  const scope = (accountId: string, region: string) => {
    const key = `${accountId}/${region}`;
    if (!keep.has(key)) keep.set(key, new Set());
    return keep.get(key) as Set<string>;
  };
  for (const arn of listedArns) {
    const ref = parseClusterArn(arn);
    if (ref) scope(ref.accountId, ref.region).add(ref.name);
  }
  if (listedAccounts) for (const account of listedAccounts) scope(account, deps.region);
  else if (deps.accountId) scope(deps.accountId, deps.region);
  const deleted: string[] = [];
  for (const [key, names] of keep) {
    const [accountId, region] = key.split("/") as [string, string];
    if (listedAccounts && !listedAccounts.includes(accountId)) continue;
    try {
      for (const name of await output.listPublishedClusters(accountId, region)) {
        if (names.has(name)) continue;
        const ref = { accountId, region, name };
        await output.remove(ref);
        deleted.push(output.locationOf(ref));
        log.info("removed the objects of a cluster that no longer exists", { cluster: name });
      }
    } catch (error) {
      log.error("could not clean up objects of vanished clusters", { error: describeError(error) });
    }
  }
  return deleted;
}
