import { describe, expect, it } from "vitest";
import { isOwnedFileName, parseObjectKey as keyToFileName, objectKey } from "../../lambda/shared/file-sd.js";

const P = "targets/";

describe("keyToFileName", () => {
  it.each([
    ["targets/123456789012/us-east-1/prod.json", "123456789012_us-east-1_prod.json"],
    ["targets/123456789012/eu-west-3/my_cluster-2.json", "123456789012_eu-west-3_my_cluster-2.json"],
    ["targets/000000000000/us-gov-west-1/C.json", "000000000000_us-gov-west-1_C.json"],
    ["targets/123456789012/cn-northwest-1/x.json", "123456789012_cn-northwest-1_x.json"],
    ["targets/123456789012/us-isob-east-1/x.json", "123456789012_us-isob-east-1_x.json"],
    [
      `targets/123456789012/us-east-1/${"a".repeat(200)}.json`,
      `123456789012_us-east-1_${"a".repeat(200)}.json`,
    ],
  ])("maps %s, and back", (key, fileName) => {
    const mapping = keyToFileName(key, P);
    expect(mapping).toMatchObject({ ok: true, fileName });
    expect(isOwnedFileName(fileName)).toBe(true);
    expect(mapping.ok && objectKey(P, mapping.ref)).toBe(key);
  });

  it("maps with an empty prefix and with a nested prefix", () => {
    expect(keyToFileName("123456789012/us-east-1/a.json", "")).toMatchObject({
      ok: true,
      fileName: "123456789012_us-east-1_a.json",
    });
    expect(keyToFileName("sd/prod/123456789012/us-east-1/a.json", "sd/prod/")).toMatchObject({
      ok: true,
      fileName: "123456789012_us-east-1_a.json",
    });
  });

  it.each([
    ["traversal", "targets/../../etc/x.json", /'\.\.' path segment/],
    ["traversal inside", "targets/123456789012/../us-east-1/x.json", /'\.\.' path segment/],
    ["dot segment", "targets/123456789012/./us-east-1.json", /'\.\.' path segment|segment/],
    ["absolute", "targets//etc/passwd.json", /absolute/],
    ["too deep", "targets/a/b/c/d.json", /3|segment/],
    ["too deep, valid parts", "targets/123456789012/us-east-1/x/y.json", /segment/],
    ["too shallow", "targets/123456789012/x.json", /segment/],
    ["state object", "state/123456789012/us-east-1/x.json", /not under the prefix/],
    ["prefix itself", "targets/", /prefix itself/],
    ["backslash", "targets/123456789012/us-east-1/..\\..\\x.json", /characters/],
    ["space", "targets/123456789012/us-east-1/a b.json", /characters/],
    ["non-ASCII", "targets/123456789012/us-east-1/café.json", /characters/],
    ["control character", "targets/123456789012/us-east-1/a\n.json", /characters/],
    ["NUL", "targets/123456789012/us-east-1/a\0.json", /characters/],
    ["odd character", "targets/123456789012/us-east-1/a:b.json", /characters/],
    ["short account", "targets/12345/us-east-1/a.json", /account id/],
    ["account with letters", "targets/12345678901x/us-east-1/a.json", /account id/],
    ["bad region", "targets/123456789012/US_EAST/a.json", /region/],
    ["region with underscore", "targets/123456789012/us_east-1/a.json", /region/],
    ["not json", "targets/123456789012/us-east-1/a.yaml", /\.json/],
    ["hidden file", "targets/123456789012/us-east-1/.json", /cluster name/],
    ["dotted cluster", "targets/123456789012/us-east-1/a.b.json", /cluster name/],
    ["name too long", `targets/123456789012/us-east-1/${"a".repeat(240)}.json`, /longer than 255 bytes/],
    ["cluster too long", `targets/123456789012/us-east-1/${"a".repeat(256)}.json`, /cluster name|longer/],
  ])("rejects %s", (_kind, key, reason) => {
    const mapping = keyToFileName(key, P);
    expect(mapping.ok).toBe(false);
    if (!mapping.ok) expect(mapping.reason).toMatch(reason);
  });

  it("never yields a name with a path separator or a dot segment (fuzz)", () => {
    const alphabet = ["/", ".", "..", "a", "_", "-", "1", "123456789012", "us-east-1", ".json", "\\", "%2e"];
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let i = 0; i < 5000; i++) {
      let key = "targets/";
      const n = 1 + (rand() % 8);
      for (let j = 0; j < n; j++) key += alphabet[rand() % alphabet.length];
      const mapping = keyToFileName(key, P);
      if (mapping.ok) {
        expect(mapping.fileName).not.toContain("/");
        expect(mapping.fileName).not.toMatch(/^\.+$/);
        expect(isOwnedFileName(mapping.fileName)).toBe(true);
      }
    }
  });
});

describe("isOwnedFileName", () => {
  it.each([
    ["123456789012_us-east-1_a.json", true],
    ["123456789012_us-east-1_a_b.json", true],
    ["static.json", false],
    ["123456789012_us-east-1_a.json.tmp", false],
    [".sidecar-abc.state", false],
    ["../123456789012_us-east-1_a.json", false],
    ["123456789012_us-east-1_a.yml", false],
  ])("%s → %s", (name, owned) => {
    expect(isOwnedFileName(name)).toBe(owned);
  });
});
