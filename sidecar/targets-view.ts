/**
 * What the sidecar publishes besides the files: the good objects' validated groups, merged for
 * http_sd_configs (/targets), and the gauges that count them.
 */
import type { TargetGroup } from "../lambda/shared/file-sd.js";
import type { SidecarMetrics } from "./metrics.js";

interface GoodObject {
  /**
   * The validated groups, re-serialized without the enclosing brackets. A string costs a fraction of
   * the parsed objects (tens of labels per group), and /targets is then a join, not a stringify.
   */
  groupsJson: string;
  bytes: number;
  targets: number;
}

export class TargetsView {
  /** File name → the last good version of its object. */
  private readonly good = new Map<string, GoodObject>();
  private cache: string | undefined;

  constructor(private readonly metrics: SidecarMetrics) {}

  /** Objects with a good version. */
  get size(): number {
    return this.good.size;
  }

  /** `groups` (already validated) became the good version of `name`'s object, of `bytes` bytes. */
  set(name: string, groups: TargetGroup[], targets: number, bytes: number): void {
    this.good.set(name, { groupsJson: JSON.stringify(groups).slice(1, -1), bytes, targets });
    this.cache = undefined;
  }

  delete(name: string): void {
    this.good.delete(name);
    this.cache = undefined;
  }

  /** Every good object's groups, merged, in file name order: the /targets body. */
  json(): string {
    this.cache ??= `[${[...this.good.keys()]
      .sort()
      .map((name) => this.good.get(name)?.groupsJson ?? "")
      .filter((json) => json !== "")
      .join(",")}]`;
    return this.cache;
  }

  groups(): TargetGroup[] {
    return JSON.parse(this.json()) as TargetGroup[];
  }

  /** Sets the objects, bytes and targets gauges. */
  publishGauges(): void {
    let bytes = 0;
    let targets = 0;
    for (const object of this.good.values()) {
      bytes += object.bytes;
      targets += object.targets;
    }
    this.metrics.objects.set(this.good.size);
    this.metrics.bytes.set(bytes);
    this.metrics.targets.set(targets);
  }
}
