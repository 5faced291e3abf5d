/**
 * What the sidecar publishes besides the files: the good objects' validated groups, merged for
 * http_sd_configs (/targets), and the gauges that count them.
 *
 * Each object's groups are kept in their compact JSON form, deflated: file_sd is so repetitive (the same
 * label names and most values on every group) that 18 MB of groups keep in about 1 MB. /targets is never
 * held as one string: a request takes a snapshot of the entries and inflates them one after the other into
 * the response, so serving it costs a few zlib buffers whatever the fleet's size.
 */
import { Readable } from "node:stream";
import { constants, createInflateRaw, deflateRawSync, inflateRawSync } from "node:zlib";
import type { TargetGroup } from "../lambda/shared/file-sd.js";
import type { SidecarMetrics } from "./metrics.js";

interface GoodObject {
  /** The groups as JSON without the enclosing brackets, deflated (raw, no header). */
  deflated: Buffer;
  /** Length of the inflated groups; 0 for an object without groups, which adds nothing to /targets. */
  jsonBytes: number;
  bytes: number;
  targets: number;
}

/** The /targets body at one moment: its length up front (Content-Length), its bytes on demand. */
export interface TargetsBody {
  byteLength: number;
  stream(): Readable;
}

const OPEN = Buffer.from("[");
const COMMA = Buffer.from(",");
const CLOSE = Buffer.from("]");

export class TargetsView {
  /** File name → the last good version of its object. */
  private readonly good = new Map<string, GoodObject>();

  constructor(private readonly metrics: SidecarMetrics) {}

  /** Objects with a good version. */
  get size(): number {
    return this.good.size;
  }

  /**
   * `compact` (validated groups, as checkObject makes them) became the good version of `name`'s object,
   * of `bytes` bytes. The caller may drop `compact` right after.
   */
  set(name: string, compact: Uint8Array, targets: number, bytes: number): void {
    // Level 1: a tenth of the default level's time, and the output is still a few percent of the input.
    // The copy trims the output to its length: zlib hands back a view of a 16 KiB chunk for small ones.
    const deflated = Buffer.from(deflateRawSync(compact, { level: constants.Z_BEST_SPEED }));
    this.good.set(name, { deflated, jsonBytes: compact.byteLength, bytes, targets });
  }

  delete(name: string): void {
    this.good.delete(name);
  }

  /** The objects that add groups to /targets, in file name order (the order /targets always had). */
  private parts(): GoodObject[] {
    return [...this.good.keys()]
      .sort()
      .map((name) => this.good.get(name))
      .filter((object): object is GoodObject => object !== undefined && object.jsonBytes > 0);
  }

  /** Every good object's groups, merged, in file name order, streamed; see the module comment. */
  body(): TargetsBody {
    const parts = this.parts();
    const commas = Math.max(parts.length - 1, 0);
    const byteLength = parts.reduce((sum, part) => sum + part.jsonBytes, 2 + commas);
    async function* chunks(): AsyncGenerator<Buffer> {
      yield OPEN;
      for (const [i, part] of parts.entries()) {
        if (i > 0) yield COMMA;
        const inflate = createInflateRaw();
        inflate.end(part.deflated);
        for await (const chunk of inflate) yield chunk as Buffer;
      }
      yield CLOSE;
    }
    return { byteLength, stream: () => Readable.from(chunks(), { objectMode: false }) };
  }

  /** The whole /targets body as one string (tests and tools; the HTTP server streams `body()`). */
  json(): string {
    return `[${this.parts()
      .map((part) => inflateRawSync(part.deflated).toString("utf8"))
      .join(",")}]`;
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
