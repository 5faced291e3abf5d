import type { EngineDeps } from "./engine/deps.js";
import { DiscoveryEngine } from "./engine/run.js";
import type { RunSummary } from "./engine/summary.js";
import { InputError, parseTrigger } from "./triggers/parse-trigger.js";

export interface QueueResponse {
  batchItemFailures: { itemIdentifier: string }[];
  summary: RunSummary;
}

export type InvokeResult = RunSummary | QueueResponse;

/**
 * One invocation, whatever invoked it: the Lambda runtime, or the CLI's `invoke` acting like it.
 * Parses the input (InputError for anything unrecognised, before any AWS call or write), runs the
 * engine and shapes the answer; SQS batches get partial-failure reporting.
 */
export async function invoke(
  event: unknown,
  deps: EngineDeps,
): Promise<{ result: InvokeResult; summary: RunSummary }> {
  let trigger: ReturnType<typeof parseTrigger>;
  try {
    trigger = parseTrigger(event);
  } catch (error) {
    if (error instanceof InputError)
      deps.log.error("rejected input; nothing was changed", { reason: error.message });
    throw error;
  }
  const summary = await new DiscoveryEngine(deps).run(trigger);
  if (trigger.kind === "queue") {
    const batchItemFailures = (summary.failedMessageIds ?? []).map((itemIdentifier) => ({ itemIdentifier }));
    return { result: { batchItemFailures, summary }, summary };
  }
  return { result: summary, summary };
}
