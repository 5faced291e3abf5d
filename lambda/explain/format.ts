/** `explain`'s two outputs: JSON lines (one object per container) and a short table for people. */
import type { ExplainedContainer, ExplainReport } from "./explain.js";

export function explainJsonLines(report: ExplainReport): string {
  return report.containers.map((c) => `${JSON.stringify(c)}\n`).join("");
}

function taskId(arn: string): string {
  return arn.slice(arn.lastIndexOf("/") + 1);
}

function why(c: ExplainedContainer): string {
  if (c.reason === "target") {
    const notes = c.notes.length > 0 ? ` (${c.notes.length} note(s): ${c.notes.join("; ")})` : "";
    return `${c.targets.join(", ")}${notes}`;
  }
  return c.detail;
}

/** The table; `limit` shows only the first rows (the counts below it are always of all of them). */
export function explainTable(report: ExplainReport, limit = Number.POSITIVE_INFINITY): string {
  const header = ["CLUSTER", "TASK", "CONTAINER", "REASON", "TARGETS OR WHY"];
  const rows = report.containers
    .slice(0, limit)
    .map((c) => [c.cluster, taskId(c.taskArn), c.container, c.reason, why(c)]);
  const widths = header
    .slice(0, -1)
    .map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i < widths.length ? cell.padEnd(widths[i] ?? 0) : cell))
      .join("  ")
      .trimEnd();
  const out = [line(header), ...rows.map(line)];
  if (rows.length < report.containers.length)
    out.push(`… and ${report.containers.length - rows.length} more`);
  const counts = Object.entries(report.reasons).map(([reason, n]) => `${n} ${reason}`);
  if (counts.length > 0) out.push("", `${report.containers.length} container(s): ${counts.join(", ")}`);
  for (const missing of report.notFound) out.push(`not found: ${missing}`);
  for (const e of report.errors) out.push(`not searched: ${e.cluster}: ${e.error}`);
  return `${out.join("\n")}\n`;
}
