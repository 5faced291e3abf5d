import type { EngineDeps } from "./engine/deps.js";
import { DiscoveryEngine } from "./engine/run.js";
import type { RunSummary } from "./engine/summary.js";
import { type ExplainQuery, type ExplainReport, explain } from "./explain/explain.js";
import { InputError, parseInvocation, parseTrigger, type Trigger } from "./triggers/parse-trigger.js";

export interface QueueResponse {
  batchItemFailures: { itemIdentifier: string }[];
  summary: RunSummary;
}

export type RunResult = RunSummary | QueueResponse;
export type InvokeResult = RunResult | ExplainReport;

/** Parses, and logs what is rejected: nothing is read or written for bad input. */
function parsed<T>(event: unknown, deps: EngineDeps, parse: (event: unknown) => T): T {
  try {
    return parse(event);
  } catch (error) {
    if (error instanceof InputError)
      deps.log.error("rejected input; nothing was changed", { reason: error.message });
    throw error;
  }
}

/**
 * One invocation, whatever invoked it: the Lambda runtime, or the CLI's `invoke` acting like it.
 * Parses the input (InputError for anything unrecognised, before any AWS call or write); an explain
 * request only reads and has no run summary; anything else is a run.
 */
export async function invoke(
  event: unknown,
  deps: EngineDeps,
): Promise<{ result: InvokeResult; summary?: RunSummary }> {
  const trigger = parsed(event, deps, parseInvocation);
  if (trigger.kind !== "explain") return runTrigger(trigger, deps);
  const { kind: _, ...query } = trigger;
  return { result: await explainWith(deps, query) };
}

/** A run (an event, a schedule, a resync or a queue batch; not explain), with its summary. */
export async function run(
  event: unknown,
  deps: EngineDeps,
): Promise<{ result: RunResult; summary: RunSummary }> {
  return runTrigger(parsed(event, deps, parseTrigger), deps);
}

async function runTrigger(
  trigger: Trigger,
  deps: EngineDeps,
): Promise<{ result: RunResult; summary: RunSummary }> {
  const summary = await new DiscoveryEngine(deps).run(trigger);
  if (trigger.kind === "queue") {
    const batchItemFailures = (summary.failedMessageIds ?? []).map((itemIdentifier) => ({ itemIdentifier }));
    return { result: { batchItemFailures, summary }, summary };
  }
  return { result: summary, summary };
}

function explainWith(deps: EngineDeps, query: ExplainQuery): Promise<ExplainReport> {
  if (!deps.finder) throw new Error("explain needs the ECS task listing, which these deps do not have");
  const { api, finder, caches, config, region, accounts } = deps;
  const members = accounts
    ? {
        accounts: {
          apiFor: (a: string) => accounts.apiFor(a),
          own: async () => deps.accountId ?? accounts.ownAccount(),
        },
      }
    : {};
  return explain({ api, finder, caches, config, region, ...members }, query);
}
