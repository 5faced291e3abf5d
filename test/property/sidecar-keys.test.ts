/**
 * The sidecar writes where S3 keys tell it to, and anyone who can write to the bucket chooses the keys.
 * Whatever a key says — dot segments, encoded or full-width dots, backslashes, NUL, absolute paths, odd
 * Unicode — it must map to one plain file name inside the directory, or to nothing; distinct keys must
 * never share a file; and a real sync over such keys must leave nothing outside the directory.
 */
import { mkdir, mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { isOwnedFileName, parseObjectKey as keyToFileName } from "../../lambda/shared/file-sd.js";
import { FakeStore, group, makeSyncer } from "../support/sidecar-fakes.js";
import { Tally } from "./tally.js";

const tally = new Tally("Sidecar key properties");
afterAll(() => tally.print());

const PREFIXES = ["targets/", "", "a/b/", "sd-", "targets"];
const SEGMENTS = [
  ...["..", ".", "", "...", "%2e%2e", "%2E%2E%2F", "..%2f", "..\\", "\\..", "\u0000", "．．", "\u2024\u2024"],
  ...["~", "C:", "/", "//", "123456789012", "us-east-1", "eu-west-1", "prod", "a_b", "x.json", ".json"],
  ...["..json", "prod.json", " ", "\t", "\n", "ü", "prod.json\u0000.txt", "CON", "$HOME", "*", "?"],
];
const ACCOUNTS = ["123456789012", "12345678901", "1234567890123", "..", "", "12345678901a"];
const REGIONS = ["us-east-1", "eu-west-1", "us-gov-west-1", "..", "us_east_1", "US-EAST-1", ".", "x"];
const NAMES = ["prod", "a_b-c", "x".repeat(255), "x".repeat(256), "..", ".", "a.b", "a/b", "a\\b", "ü", ""];
const EXTS = [".json", ".JSON", ".json.tmp", "", ".json/", ".json/.."];

const wildKey = fc
  .tuple(
    fc.constantFrom(...PREFIXES),
    fc.array(fc.oneof(fc.constantFrom(...SEGMENTS), fc.string({ unit: "binary", maxLength: 12 })), {
      maxLength: 6,
    }),
    fc.constantFrom("/", "\\", "", "//"),
  )
  .map(([prefix, segments, sep]) => ({ prefix, key: prefix + segments.join(sep) }));

/** Keys close to the real shape, so that a fair share of them map and the mapping itself is exercised. */
const mostly = <T>(good: fc.Arbitrary<T>, bad: readonly T[]) =>
  fc.oneof({ weight: 4, arbitrary: good }, { weight: 1, arbitrary: fc.constantFrom(...bad) });
const nearKey = fc
  .tuple(
    mostly(fc.constant("targets/"), PREFIXES),
    mostly(fc.stringMatching(/^\d{12}$/), ACCOUNTS),
    mostly(fc.constantFrom("us-east-1", "eu-west-1", "us-gov-west-1", "ap-southeast-2"), REGIONS),
    mostly(fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/), NAMES),
    mostly(fc.constant(".json"), EXTS),
  )
  .map(([prefix, account, region, name, ext]) => ({
    prefix,
    key: `${prefix}${account}/${region}/${name}${ext}`,
  }));

const anyKey = fc.oneof(
  wildKey,
  nearKey,
  fc.string({ unit: "binary", maxLength: 60 }).map((key) => ({ prefix: "", key })),
);

const DIR = resolve(tmpdir(), "sidecar-out");

function expectInside(fileName: string): void {
  expect(fileName).toBe(basename(fileName));
  expect(fileName).not.toMatch(/[/\\\0]/);
  expect([".", ".."]).not.toContain(fileName);
  expect(isOwnedFileName(fileName)).toBe(true);
  const full = resolve(DIR, fileName);
  expect(dirname(full)).toBe(DIR);
  const rel = relative(DIR, full);
  expect(rel.startsWith("..") || isAbsolute(rel)).toBe(false);
}

describe("keyToFileName over hostile keys", () => {
  it("never throws, and a mapped key is always one plain owned name directly inside the directory", () => {
    fc.assert(
      fc.property(anyKey, ({ prefix, key }) => {
        let mapping: ReturnType<typeof keyToFileName>;
        try {
          mapping = keyToFileName(key, prefix);
        } catch (error) {
          tally.crash("keyToFileName");
          throw error;
        }
        tally.tried("keyToFileName", !mapping.ok);
        if (!mapping.ok) {
          expect(mapping.reason.trim()).not.toBe("");
          return;
        }
        expectInside(mapping.fileName);
        expect(mapping.fileName).toBe(key.slice(prefix.length).split("/").join("_"));
      }),
      { numRuns: 5000 },
    );
  });

  it("never maps two keys to one file", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(nearKey, { maxLength: 30, selector: (k) => `${k.prefix}\n${k.key}` }),
        (keys) => {
          const byName = new Map<string, string>();
          for (const { key } of keys) {
            const mapping = keyToFileName(key, "targets/");
            tally.tried("injective", !mapping.ok);
            if (!mapping.ok) continue;
            const other = byName.get(mapping.fileName);
            expect(other === undefined || other === key, `${key} and ${other} → ${mapping.fileName}`).toBe(
              true,
            );
            byName.set(mapping.fileName, key);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("a real sync over hostile keys", () => {
  it("writes only owned names inside its directory, and nothing next to or above it", async () => {
    const sandbox = await mkdtemp(join(tmpdir(), "sidecar-keys-"));
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(wildKey, nearKey), { minLength: 1, maxLength: 8 }), async (keys) => {
        // sandbox/<run>/level/out: anything escaping `out` by one or two levels would show up here.
        const root = join(sandbox, String(run++));
        const out = join(root, "level", "out");
        await mkdir(out, { recursive: true });
        const store = new FakeStore();
        for (const { prefix, key } of keys)
          store.put(`targets/${key.slice(prefix.length)}`, group("10.0.0.1:80"));
        const { syncer } = makeSyncer(store, out);
        await syncer.init();
        let result: Awaited<ReturnType<typeof syncer.syncOnce>>;
        try {
          result = await syncer.syncOnce();
        } catch (error) {
          tally.crash("sync");
          throw error;
        }
        const stored = [...store.objects.keys()];
        const mapped = stored.map((k) => keyToFileName(k, "targets/")).filter((m) => m.ok);
        tally.tried("sync", mapped.length < stored.length);
        expect(await readdir(root)).toEqual(["level"]);
        expect(await readdir(join(root, "level"))).toEqual(["out"]);
        const written = (await readdir(out)).filter((n) => n !== syncer.stateFileName);
        for (const name of written) expectInsideOf(out, name);
        expect(written.sort()).toEqual([...new Set(mapped.map((m) => (m.ok ? m.fileName : "")))].sort());
        expect(result.rejected).toBe(stored.length - mapped.length);
      }),
      { numRuns: 60 },
    );
  });
});

function expectInsideOf(dir: string, name: string): void {
  expect(isOwnedFileName(name), name).toBe(true);
  expect(dirname(resolve(dir, name))).toBe(resolve(dir));
}
