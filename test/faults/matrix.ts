/** Scenario → outcome rows, printed as one table at the end of a suite so CI logs show the whole matrix. */

export interface MatrixRow {
  scenario: string;
  fault: string;
  outcome: string;
  verdict: "nothing lost" | "FAILED";
}

export class Matrix {
  readonly rows: MatrixRow[] = [];

  constructor(private readonly title: string) {}

  /** Runs one scenario; `body` returns the observed outcome. A thrown assertion is recorded, then rethrown. */
  async scenario(scenario: string, fault: string, body: () => Promise<string>): Promise<void> {
    try {
      const outcome = await body();
      this.rows.push({ scenario, fault, outcome, verdict: "nothing lost" });
    } catch (error) {
      const message = (error as Error)?.message?.split("\n")[0] ?? String(error);
      this.rows.push({ scenario, fault, outcome: message.slice(0, 140), verdict: "FAILED" });
      throw error;
    }
  }

  survived(): number {
    return this.rows.filter((r) => r.verdict === "nothing lost").length;
  }

  render(): string {
    const headers = ["#", "scenario", "fault", "outcome", "verdict"];
    const body = this.rows.map((r, i) => [String(i + 1), r.scenario, r.fault, r.outcome, r.verdict]);
    const widths = headers.map((h, c) => Math.max(h.length, ...body.map((row) => (row[c] ?? "").length)));
    const line = (cells: string[]) =>
      `| ${cells.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join(" | ")} |`;
    const rule = `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`;
    const failed = this.rows.length - this.survived();
    return [
      `${this.title}: ${this.survived()} of ${this.rows.length} scenarios with nothing lost${failed ? `, ${failed} FAILED` : ""}`,
      line(headers),
      rule,
      ...body.map(line),
    ].join("\n");
  }

  print(): void {
    process.stdout.write(`\n${this.render()}\n\n`);
  }
}
