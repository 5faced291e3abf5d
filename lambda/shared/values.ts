/** Small helpers for values of unknown shape: events, stored objects, errors. Dependency-free. */

/** A plain object (not null, not an array): the only shape whose fields may be read. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The HTTP status an AWS SDK error carries, if any. */
export function httpStatusOf(error: unknown): number | undefined {
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | undefined)?.$metadata
    ?.httpStatusCode;
  return typeof status === "number" ? status : undefined;
}

/**
 * One line for logs and summaries: `Name: message (HTTP status)`. The name is left out when it says
 * nothing ("Error"); only the first line of a multi-line message is kept.
 */
export function describeError(error: unknown): string {
  if (!isRecord(error) && !(error instanceof Error)) return String(error);
  const e = error as { name?: unknown; message?: unknown; code?: unknown };
  const name = typeof e.name === "string" && e.name !== "" && e.name !== "Error" ? e.name : "";
  const text = [e.message, e.code].find((v): v is string => typeof v === "string" && v !== "") ?? "";
  const message = text.split("\n")[0] ?? "";
  const status = httpStatusOf(error);
  const head = name && message ? `${name}: ${message}` : name || message || String(error);
  return status ? `${head} (HTTP ${status})` : head;
}
