/**
 * Several accounts (ACCOUNTS): which accounts a run discovers, the deps that read each one, and the
 * reconcile's cluster listing account by account, so that an account whose role cannot be assumed, or
 * that is throttled or denied, fails alone: its clusters keep their objects, the others are published.
 */
import type { ClusterInfo } from "../core/model.js";
import { parseClusterArn } from "../core/model.js";
import { isAccountId } from "../shared/account-settings.js";
import { mapLimit } from "../shared/concurrency.js";
import { describeError } from "../shared/values.js";
import type { EngineDeps } from "./deps.js";

/** The accounts a run discovers: ACCOUNTS, and which of them is the function's own. */
export interface AccountScope {
  own: string;
  accounts: string[];
}

export interface AccountOutcome {
  account: string;
  status: "listed" | "failed";
  clusters: number;
  error?: string;
}

/** Undefined when only the function's own account is discovered (ACCOUNTS unset), as before. */
export async function accountScope(deps: EngineDeps): Promise<AccountScope | undefined> {
  const listed = deps.config.accounts?.accounts ?? [];
  if (listed.length === 0 || !deps.accounts) return undefined;
  const own = deps.accountId ?? (await deps.accounts.ownAccount());
  return { own, accounts: listed };
}

/** The deps that read `account`: the function's own clients for its own account, an assumed role's else. */
export function depsFor(deps: EngineDeps, scope: AccountScope | undefined, account: string): EngineDeps {
  if (!scope || !deps.accounts || account === scope.own) return deps;
  return { ...deps, api: deps.accounts.apiFor(account), accountId: account };
}

/**
 * The clusters of one account a reconcile covers: the ones asked for (names, and ARNs of this account), or
 * every cluster. DescribeClusters gives their tags at one call per 100, made only when tags are published
 * and the listing had no need of it anyway.
 */
export async function listAccountClusters(
  deps: EngineDeps,
  wanted: readonly string[],
): Promise<{ active: string[]; info: Map<string, ClusterInfo> }> {
  const { api, config, log } = deps;
  if (wanted.length === 0) {
    const arns = await api.listClusterArns();
    if (!config.rules.includeTags || arns.length === 0) return { active: arns, info: new Map() };
    return { active: arns, info: (await api.describeClusters(arns)).info };
  }
  const listing = await api.describeClusters([...wanted]);
  for (const ref of listing.missing)
    log.warn("configured cluster does not exist or is not ACTIVE", { cluster: ref });
  return listing;
}

/** Cluster names apply in every account; a cluster ARN only in its own. */
function wantedIn(account: string, refs: readonly string[]): string[] {
  return refs.filter((ref) => {
    const arn = parseClusterArn(ref);
    return !arn || arn.accountId === account;
  });
}

export interface AccountsListing {
  active: string[];
  info: Map<string, ClusterInfo>;
  outcomes: AccountOutcome[];
  /** Accounts listed in full: only their vanished clusters may be cleaned up. */
  listedAccounts: string[];
}

/** Lists each account's clusters on its own; a failed account is an outcome, not a thrown error. */
export async function listAccounts(
  deps: EngineDeps,
  scope: AccountScope,
  requested: readonly string[],
): Promise<AccountsListing> {
  const refs = requested.length > 0 ? requested : deps.config.clusters;
  const result: AccountsListing = { active: [], info: new Map(), outcomes: [], listedAccounts: [] };
  const accounts = scope.accounts.filter(isAccountId);
  const listings = await mapLimit(accounts, deps.config.maxConcurrency, async (account) => {
    const wanted = wantedIn(account, refs);
    // Only ARNs of other accounts were asked for: nothing of this account is to be reconciled.
    if (refs.length > 0 && wanted.length === 0) return { account, skipped: true as const };
    try {
      return { account, listing: await listAccountClusters(depsFor(deps, scope, account), wanted) };
    } catch (error) {
      deps.log.error("account not listed; its clusters keep their objects", {
        account,
        error: describeError(error),
      });
      return { account, error: describeError(error) };
    }
  });
  for (const l of listings) {
    if ("skipped" in l) continue;
    if ("error" in l) {
      result.outcomes.push({ account: l.account, status: "failed", clusters: 0, error: l.error as string });
      continue;
    }
    const { active, info } = l.listing;
    result.active.push(...active);
    for (const [arn, i] of info) result.info.set(arn, i);
    result.listedAccounts.push(l.account);
    result.outcomes.push({ account: l.account, status: "listed", clusters: active.length });
  }
  return result;
}
