/**
 * The `organisation` group: one hub function discovering 20 member accounts (ACCOUNTS), each read through
 * its reader role (AssumeRole with ACCOUNT_ROLE_EXTERNAL_ID) with its own clients and pacer, against the
 * stand-in with one fleet and one set of AWS token buckets per (account, region). A cold reconcile, then a
 * warm one: ECS/EC2 calls per account against that account's lower bound, STS calls and what they come to
 * per hour, wall time against the token-bucket floor of one account, peak RSS.
 */
import { assumedRoleCredentials } from "../../lambda/aws/account-access.js";
import { loadEngineConfig } from "../../lambda/config.js";
import { generateFleet, readerRoleArn, sumSnapshots } from "../standin/index.js";
import { type CallsByOperation, reconcileLowerBound, tokenBucketFloorMs, totalOf } from "./bounds.js";
import { EngineProcess } from "./engine-process.js";
import { MemoryTargetOutput } from "./memory-output.js";
import { type BudgetStatus, formatCalls, table } from "./report.js";
import { type BenchOptions, type Row, rowOf, scheduledEvent, withStandIn } from "./scenarios.js";

export const ORGANISATION = {
  members: 20,
  clustersPerAccount: 5,
  tasksPerAccount: 100,
  externalId: "bench-organisation-7f3a",
  overBoundPercent: 5,
} as const;

export interface AccountFigures {
  account: string;
  calls: CallsByOperation;
  bound: CallsByOperation;
  throttled: number;
  /** Objects published under targets/{account}/{region}/ after the run. */
  published: number;
}

export interface OrganisationFigures {
  hub: string;
  region: string;
  perAccount: AccountFigures[];
  /** ECS/EC2 calls the stand-in received in the hub's own account (not in ACCOUNTS: none expected). */
  hubCalls: number;
  assumeRole: { ok: number; failed: number; accounts: number };
  getCallerIdentity: number;
  failedAccounts: number;
  /** The largest per-account floor: each account drains its own buckets. */
  floorPerAccountMs: number;
  /** The floor if one account held every member's fleet: their bounds in one set of buckets. */
  floorOneAccountMs: number;
  /** What per-call latency alone allows: every call made in turn, MAX_CONCURRENCY clusters at a time. */
  latencyBoundMs: number;
  maxConcurrency: number;
  /** Cold only: how often a warm function asks STS again, from the credentials' measured lifetime. */
  sts?: { lifetimeMinutes: number; refreshEveryMinutes: number; perHour: number };
}

/** Twelve-digit ids of the member accounts. */
function memberAccounts(): string[] {
  return Array.from({ length: ORGANISATION.members }, (_, i) => String(200_000_000_001 + i));
}

function addCalls(list: CallsByOperation[]): CallsByOperation {
  const out: CallsByOperation = {};
  for (const c of list) for (const [op, n] of Object.entries(c)) out[op] = (out[op] ?? 0) + n;
  return out;
}

/**
 * How often the engine's own credential cache (the provider each account's clients use) assumes a role
 * again when credentials live `lifetimeMs`: run on a simulated clock, asked every second.
 */
async function refreshIntervalMs(lifetimeMs: number): Promise<number> {
  let clock = 0;
  const issuedAt: number[] = [];
  const provider = assumedRoleCredentials(
    async () => {
      issuedAt.push(clock);
      return { accessKeyId: "ASIA", secretAccessKey: "x", expiration: new Date(clock + lifetimeMs) };
    },
    () => clock,
  );
  while (issuedAt.length < 3) {
    await provider();
    clock += 1000;
  }
  return (issuedAt[2] as number) - (issuedAt[1] as number);
}

/** Quiet time between the two reconciles, as in reconcileGroup: long enough for the buckets to refill. */
const QUIET_MS = 5000;
const REFILL_PER_SECOND = 20;

export async function organisationGroup(group: string, options: BenchOptions): Promise<Row[]> {
  return withStandIn(async (standIn) => {
    const { clustersPerAccount, tasksPerAccount, externalId } = ORGANISATION;
    const members = memberAccounts();
    const fleets = members.map((account, i) => {
      const f = standIn.addFleet({ account, region: standIn.region, seed: 100 + i });
      generateFleet(f, { clusters: clustersPerAccount, tasks: tasksPerAccount, seed: 100 + i });
      f.faults.latency(options.latencyMs);
      standIn.addRole({ arn: readerRoleArn(account), externalId });
      return f;
    });
    standIn.faults.latency(options.latencyMs);
    standIn.sts.faults.latency(options.latencyMs);
    const bounds = new Map(fleets.map((f) => [f.account, reconcileLowerBound(f.fleet)]));
    const shape = { tasks: 0, clusters: 0, hosts: 0 };
    for (const { fleet } of fleets) {
      for (const t of fleet.tasks.values()) if (t.desiredStatus === "RUNNING") shape.tasks++;
      shape.clusters += fleet.clusters.size;
      shape.hosts += fleet.hosts.size;
    }
    const store = new MemoryTargetOutput(group);
    const env = {
      ...standIn.env(),
      ACCOUNTS: members.join(","),
      ACCOUNT_ROLE_EXTERNAL_ID: externalId,
      BENCH_FUNCTION_ACCOUNT: standIn.account,
    };
    const { maxConcurrency } = loadEngineConfig(env);
    const engine = await EngineProcess.start(store, env);
    try {
      const rows: Row[] = [];
      let spent = 0;
      for (const phase of ["cold", "warm"] as const) {
        const quietMs = Math.min(QUIET_MS, (spent / REFILL_PER_SECOND) * 1000);
        if (quietMs > 0) await new Promise((resolve) => setTimeout(resolve, quietMs + 100));
        // Fresh counters and, as after a quiet few minutes in AWS, full token buckets in every account.
        for (const f of standIn.fleets()) {
          f.counters.reset();
          if (options.throttling) f.faults.throttling(true);
        }
        standIn.sts.reset();
        store.resetStats();
        const startedAt = Date.now();
        const report = await engine.invoke(scheduledEvent(standIn));
        const counters = sumSnapshots(standIn.fleets().map((f) => f.counters.snapshot()));
        const written = store.resetStats();
        const perAccount: AccountFigures[] = [];
        for (const f of fleets) {
          const s = f.counters.snapshot();
          const published = await store.listPublishedClusters(f.account, f.region);
          const bound = bounds.get(f.account)?.[phase] ?? {};
          perAccount.push({
            account: f.account,
            calls: s.calls,
            bound,
            throttled: s.totalThrottled,
            published: published.length,
          });
        }
        spent = Math.max(...perAccount.map((a) => totalOf(a.calls)));
        const stsCalls = standIn.sts.calls();
        const assumed = stsCalls.filter((c) => c.operation === "AssumeRole");
        const ok = assumed.filter((c) => c.outcome === "ok");
        const boundSum = addCalls(perAccount.map((a) => a.bound));
        const figures: OrganisationFigures = {
          hub: standIn.account,
          region: standIn.region,
          perAccount,
          hubCalls: standIn.counters.snapshot().totalCalls,
          assumeRole: {
            ok: ok.length,
            failed: assumed.length - ok.length,
            accounts: new Set(ok.map((c) => c.account)).size,
          },
          getCallerIdentity: stsCalls.filter((c) => c.operation === "GetCallerIdentity").length,
          failedAccounts: report.summary.accounts?.filter((a) => a.status === "failed").length ?? 0,
          floorPerAccountMs: Math.max(...perAccount.map((a) => tokenBucketFloorMs(a.bound))),
          floorOneAccountMs: tokenBucketFloorMs(boundSum),
          latencyBoundMs: ((counters.totalCalls + stsCalls.length) * options.latencyMs) / maxConcurrency,
          maxConcurrency,
        };
        const issued = standIn.sts.issued();
        if (phase === "cold" && issued.length > 0) {
          const lifetimeMs = Math.min(...issued.map((c) => c.expiration.getTime() - startedAt));
          const lifetimeMinutes = Math.round(lifetimeMs / 60_000);
          const interval = await refreshIntervalMs(lifetimeMinutes * 60_000);
          figures.sts = {
            lifetimeMinutes,
            refreshEveryMinutes: interval / 60_000,
            perHour: (members.length * 3_600_000) / interval,
          };
        }
        rows.push(
          rowOf(
            `${group} ${phase}`,
            group,
            standIn,
            { report, counters, written },
            {
              fleet: shape,
              bound: boundSum,
              floorMs: figures.floorPerAccountMs,
              organisation: figures,
            },
          ),
        );
      }
      return rows;
    } finally {
      await engine.close();
    }
  });
}

function spread(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  return `${sorted[0]}/${at(0.5)}/${sorted[sorted.length - 1]}`;
}

function overPercent(a: AccountFigures): number {
  const bound = totalOf(a.bound);
  return bound === 0 ? 0 : ((totalOf(a.calls) - bound) / bound) * 100;
}

function worstAccount(o: OrganisationFigures): AccountFigures {
  return [...o.perAccount].sort((a, b) => overPercent(b) - overPercent(a))[0] as AccountFigures;
}

const signed = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(1)}`;
const sec = (ms: number) => (ms / 1000).toFixed(2);

/** The organisation table and its notes; nothing when the group did not run. */
export function organisationLines(rows: Row[]): string[] {
  const org = rows.filter((r) => r.organisation);
  const first = org[0]?.organisation;
  if (!first) return [];
  const members = first.perAccount.length;
  const header = [
    "phase",
    "calls/account min/med/max",
    "bound/account min/med/max",
    "+% worst account",
    "calls",
    "bound",
    "throttled",
    "failed clusters/accounts",
    "published accounts",
    "AssumeRole",
    "GetCallerIdentity",
    "wall s",
    "floor/account s",
    "floor if one account s",
    "peak RSS MB",
  ];
  const body = org.map((r) => {
    const o = r.organisation as OrganisationFigures;
    const full = o.perAccount.filter((a) => a.published >= ORGANISATION.clustersPerAccount).length;
    return [
      r.id.split(" ").pop() ?? r.id,
      spread(o.perAccount.map((a) => totalOf(a.calls))),
      spread(o.perAccount.map((a) => totalOf(a.bound))),
      signed(overPercent(worstAccount(o))),
      String(totalOf(r.calls)),
      String(totalOf(r.bound ?? {})),
      String(totalOf(r.throttled)),
      `${r.failures}/${o.failedAccounts}`,
      `${full}/${members}`,
      `${o.assumeRole.ok}${o.assumeRole.failed ? ` (+${o.assumeRole.failed} failed)` : ""}`,
      String(o.getCallerIdentity),
      sec(r.wallMs),
      sec(o.floorPerAccountMs),
      sec(o.floorOneAccountMs),
      (r.peakRssBytes / (1024 * 1024)).toFixed(0),
    ];
  });
  const lines = [
    `organisation: ${members} member accounts × ${ORGANISATION.clustersPerAccount} clusters × ${ORGANISATION.tasksPerAccount / ORGANISATION.clustersPerAccount} tasks ` +
      `(${org[0]?.fleet.tasks.toLocaleString("en-US")} running tasks, ${org[0]?.fleet.hosts} hosts), one region (${first.region}); the hub ` +
      `${first.hub} (the function's own account, its id from the invocation context as in the handler) holds nothing and ` +
      `is not in ACCOUNTS, so every member is read through its reader role (AssumeRole with ACCOUNT_ROLE_EXTERNAL_ID), ` +
      `with clients and a pacer of its own; the stand-in has token buckets per (account, region). Calls are ECS/EC2 ` +
      `requests the stand-in received per account, throttled ones included; bound: bounds.ts's least for that account's fleet.`,
    table(header, body, new Set([3, 4, 5, 6, 9, 10, 11, 12, 13, 14])),
  ];
  for (const r of org) {
    const o = r.organisation as OrganisationFigures;
    const w = worstAccount(o);
    lines.push(
      `${r.id}: worst account ${w.account}: ${formatCalls(w.calls)} (bound ${formatCalls(w.bound)}); ` +
        `AssumeRole for ${o.assumeRole.accounts} distinct accounts; hub's own account: ${o.hubCalls} ECS/EC2 calls` +
        (r.notes.length > 0 ? `; first problems: ${r.notes.join(" | ")}` : ""),
    );
  }
  const sts = first.sts;
  if (sts) {
    lines.push(
      `STS per warm function: ${sts.perHour.toFixed(1)} AssumeRole/h = ${members} member accounts × 60 / ` +
        `${sts.refreshEveryMinutes} min: credentials are issued for ${sts.lifetimeMinutes} min (their expiration less the ` +
        `cold reconcile's start; the engine asks no DurationSeconds), and the engine's credential cache ` +
        `(assumedRoleCredentials, run on a simulated clock) assumes a role again ${sts.refreshEveryMinutes} min after ` +
        `each issue. Each warm execution environment has its own cache: a cold start adds ${members} at once.`,
    );
  }
  lines.push(
    `floor/account: the token-bucket floor of the largest account's bound (each account drains its own buckets, so ` +
      `accounts do not add up); floor if one account: the same ${members} bounds in one account's buckets. ` +
      `No bucket binds here, so per-call latency sets the wall time: ${org
        .map((r) => {
          const o = r.organisation as OrganisationFigures;
          return `${r.id.split(" ").pop()} ${sec(o.latencyBoundMs)} s`;
        })
        .join(", ")} (ECS/EC2 and STS calls × latency / MAX_CONCURRENCY ${first.maxConcurrency}).`,
  );
  return lines;
}

export function organisationBudget(rows: Row[]): BudgetStatus {
  const org = rows.filter((r) => r.organisation);
  const limit = ORGANISATION.overBoundPercent;
  const budget =
    `organisation: calls per account <= ${limit} % above its bound; one AssumeRole per member ` +
    "account cold, none warm; no failures";
  if (org.length === 0) return { budget, status: "not run", figure: "-" };
  let ok = true;
  const figure = org.map((r) => {
    const o = r.organisation as OrganisationFigures;
    const worst = overPercent(worstAccount(o));
    const expected = r.id.endsWith(" cold") ? o.perAccount.length : 0;
    ok &&= worst <= limit && o.assumeRole.ok === expected && o.assumeRole.failed === 0;
    ok &&= r.failures === 0 && o.failedAccounts === 0;
    return `${r.id}: worst account ${signed(worst)} %, ${o.assumeRole.ok} AssumeRole, ${r.failures} failed`;
  });
  return { budget, status: ok ? "met" : "missed", figure: figure.join("; ") };
}
