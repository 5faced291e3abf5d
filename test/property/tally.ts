/**
 * Counts of what a property suite threw at the code: inputs tried, inputs that were bad (rejected or
 * warned about, as they should be), and crashes (an exception outside the contract). Printed at the end
 * so CI output shows the effort behind a green run.
 */
export class Tally {
  private readonly counts = new Map<string, { tried: number; bad: number; crashes: number }>();

  constructor(private readonly title: string) {}

  private row(name: string) {
    let row = this.counts.get(name);
    if (!row) {
      row = { tried: 0, bad: 0, crashes: 0 };
      this.counts.set(name, row);
    }
    return row;
  }

  tried(name: string, bad: boolean): void {
    const row = this.row(name);
    row.tried++;
    if (bad) row.bad++;
  }

  crash(name: string): void {
    this.row(name).crashes++;
  }

  totals(): { tried: number; bad: number; crashes: number } {
    let tried = 0;
    let bad = 0;
    let crashes = 0;
    for (const row of this.counts.values()) {
      tried += row.tried;
      bad += row.bad;
      crashes += row.crashes;
    }
    return { tried, bad, crashes };
  }

  print(): void {
    const names = [...this.counts.keys()];
    const width = Math.max(8, ...names.map((n) => n.length));
    const lines = [`${this.title}`, `  ${"property".padEnd(width)}  inputs    bad  crashes`];
    for (const [name, row] of this.counts) {
      lines.push(
        `  ${name.padEnd(width)}  ${String(row.tried).padStart(6)} ${String(row.bad).padStart(6)} ${String(row.crashes).padStart(8)}`,
      );
    }
    const t = this.totals();
    lines.push(
      `  ${"total".padEnd(width)}  ${String(t.tried).padStart(6)} ${String(t.bad).padStart(6)} ${String(t.crashes).padStart(8)}`,
    );
    process.stdout.write(`\n${lines.join("\n")}\n\n`);
  }
}
