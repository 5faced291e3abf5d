import type {
  ObjectKind,
  ObjectRef,
  StoredObject,
  TargetOutput,
} from "../../lambda/publish/target-output.js";
import { objectKey, parseObjectKey } from "../../lambda/shared/file-sd.js";

export interface WriteStats {
  writes: { targets: number; state: number };
  bytes: { targets: number; state: number };
  conflicts: number;
}

/**
 * S3 without the network: conditional writes by ETag with S3's semantics (absent expected object means
 * "only if absent"), so two engine processes sharing it race exactly as two Lambdas sharing a bucket do.
 * It also counts what was written, which is the "objects written" figure of the benchmark.
 */
export class MemoryTargetOutput implements TargetOutput {
  readonly location: string;
  private readonly objects = new Map<string, StoredObject>();
  private version = 0;
  stats: WriteStats = emptyStats();

  constructor(
    readonly name: string,
    private readonly prefixes = { targets: "targets/", state: "state/" },
  ) {
    this.location = `memory://${name}/${prefixes.targets}`;
  }

  locationOf(ref: ObjectRef, kind: ObjectKind = "targets"): string {
    return `memory://${this.name}/${objectKey(this.prefixes[kind], ref)}`;
  }

  async read(ref: ObjectRef, kind: ObjectKind = "targets"): Promise<StoredObject | undefined> {
    return this.objects.get(this.locationOf(ref, kind));
  }

  async write(
    ref: ObjectRef,
    body: string,
    expected: StoredObject | undefined,
    kind: ObjectKind = "targets",
  ): Promise<string | undefined> {
    const key = this.locationOf(ref, kind);
    if (this.objects.get(key)?.etag !== expected?.etag) {
      this.stats.conflicts++;
      return undefined;
    }
    const etag = `"${(++this.version).toString(16)}"`;
    this.objects.set(key, { body, etag });
    this.stats.writes[kind]++;
    this.stats.bytes[kind] += Buffer.byteLength(body);
    return etag;
  }

  async remove(ref: ObjectRef): Promise<void> {
    this.objects.delete(this.locationOf(ref, "targets"));
    this.objects.delete(this.locationOf(ref, "state"));
  }

  async listPublishedClusters(accountId: string, region: string): Promise<string[]> {
    const prefix = `memory://${this.name}/${this.prefixes.targets}`;
    return [...this.objects.keys()].flatMap((key) => {
      const parsed = parseObjectKey(key, prefix);
      return parsed.ok && parsed.ref.accountId === accountId && parsed.ref.region === region
        ? [parsed.ref.name]
        : [];
    });
  }

  /** The file_sd bodies by key, to compare what two ways of getting there published. */
  targets(): Map<string, string> {
    const out = new Map<string, string>();
    const marker = `/${this.prefixes.targets}`;
    for (const [key, object] of this.objects) {
      const at = key.indexOf(marker);
      if (at >= 0 && key.slice(0, at) === `memory://${this.name}`)
        out.set(key.slice(at + marker.length), object.body);
    }
    return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
  }

  resetStats(): WriteStats {
    const before = this.stats;
    this.stats = emptyStats();
    return before;
  }
}

function emptyStats(): WriteStats {
  return { writes: { targets: 0, state: 0 }, bytes: { targets: 0, state: 0 }, conflicts: 0 };
}
