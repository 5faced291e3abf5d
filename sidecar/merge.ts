/**
 * One poll's listings of every bucket, merged into what the directory should hold: file name → the one
 * bucket object it is made from. Pure, so the rules are tested as tables.
 *
 * - A key maps to its flat file name (parseObjectKey in lambda/shared/file-sd.ts), which names account,
 *   region and cluster but not the bucket: two buckets holding the same key (two hubs publishing the same
 *   account and region) would write the same file. The bucket given first wins; the later bucket's key is
 *   a duplicate, skipped and reported, for as long as the first one holds it. Nothing alternates.
 * - A bucket whose listing failed keeps its claims: the names it owns and the names of its last good
 *   listing are held for it, so a later bucket does not take them over while it is unreachable, and its
 *   files are never removed meanwhile (Syncer.removeGone). An earlier bucket still wins over it, as it
 *   would with both listings in hand.
 */
import { parseObjectKey } from "../lambda/shared/file-sd.js";
import type { ListedObject } from "./store.js";

/** The bucket (by its index in the order given) and object a file is made from. */
export interface Claim {
  source: number;
  object: ListedObject;
}

export interface Skipped extends Claim {
  reason: string;
}

export interface Duplicate extends Claim {
  name: string;
  /** The bucket whose object has the file. */
  keptBy: number;
  /** True when that bucket's listing failed and the file is held for it. */
  held: boolean;
}

export interface Merged {
  wanted: Map<string, Claim>;
  /** Keys that map to no file. */
  invalid: Skipped[];
  duplicates: Duplicate[];
  /** Per bucket: the file names its listing maps to (won or not); undefined for a failed listing. */
  names: Array<Set<string> | undefined>;
}

/**
 * `listings[i]` is bucket i's listing, undefined when it failed. `held` gives, for a name, the first
 * bucket whose listing failed that still claims it (what it owns or last listed).
 */
export function mergeListings(
  listings: ReadonlyArray<readonly ListedObject[] | undefined>,
  prefix: string,
  held: ReadonlyMap<string, number>,
): Merged {
  const merged: Merged = { wanted: new Map(), invalid: [], duplicates: [], names: [] };
  for (const [source, listing] of listings.entries()) {
    if (listing === undefined) {
      merged.names.push(undefined);
      continue;
    }
    const names = new Set<string>();
    merged.names.push(names);
    for (const object of listing) {
      const mapping = parseObjectKey(object.key, prefix);
      if (!mapping.ok) {
        merged.invalid.push({ source, object, reason: mapping.reason });
        continue;
      }
      const name = mapping.fileName;
      names.add(name);
      const winner = merged.wanted.get(name)?.source;
      const holder = held.get(name);
      if (winner === source) continue; // the same key twice in one listing
      if (winner !== undefined) {
        merged.duplicates.push({ source, object, name, keptBy: winner, held: false });
      } else if (holder !== undefined && holder < source) {
        merged.duplicates.push({ source, object, name, keptBy: holder, held: true });
      } else {
        merged.wanted.set(name, { source, object });
      }
    }
  }
  return merged;
}
