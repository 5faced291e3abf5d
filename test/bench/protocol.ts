import type { RunSummary } from "../../lambda/engine/summary.js";

/**
 * Messages between the benchmark driver and an engine process. Each engine process plays one Lambda
 * execution environment: module-scope SDK clients and caches that live as long as the process, objects in
 * a store the driver holds (so two processes can share it, as two Lambdas share a bucket).
 */
export type StoreMethod = "read" | "write" | "remove" | "listPublishedClusters";

export type ToEngine =
  | { kind: "invoke"; id: number; event: unknown }
  | { kind: "store-reply"; id: number; value?: unknown; error?: string };

export type FromEngine =
  | { kind: "ready"; initMs: number }
  | { kind: "reply"; id: number; report?: InvokeReport; error?: string }
  | { kind: "store"; id: number; method: StoreMethod; args: unknown[] };

export interface InvokeReport {
  summary: Omit<RunSummary, "targetGroups">;
  /** Around the whole invocation, as the Lambda runtime would time the handler. */
  wallMs: number;
  /** Time with at least one object read or write in flight: what S3 would add, excluded from handler time. */
  storageMs: number;
  storageCalls: number;
  /** process.resourceUsage().maxRSS: the process's peak so far, like Lambda's "Max Memory Used". */
  maxRssBytes: number;
  log: { warn: number; error: number; conflicts: number; firstProblems: string[] };
}
