import { describe, expect, it } from "vitest";
import { isValidTarget, validateFileSd, validateFileSdValue } from "../../lambda/shared/file-sd.js";

const enc = (s: string) => new TextEncoder().encode(s);

describe("isValidTarget", () => {
  it.each([
    ["10.0.1.23:32768", true],
    ["127.0.0.1:1", true],
    ["host:65535", true],
    ["my-host.example.com:9100", true],
    ["my_host.internal:9100", true],
    ["[::1]:9100", true],
    ["[2001:db8::1]:80", true],
    ["10.0.1.23", false],
    ["10.0.1.23:", false],
    [":9100", false],
    ["host:0", false],
    ["host:65536", false],
    ["host:09100", false],
    ["host:abc", false],
    ["999.1.1.1:80", false],
    ["10.1:80", false],
    ["::1:9100", false],
    ["[::1]9100", false],
    ["[nothex]:80", false],
    ["http://host:80", false],
    ["host/path:80", false],
    ["-bad.example:80", false],
    ["a..b:80", false],
    ["host :80", false],
    ["", false],
  ])("%s → %s", (target, valid) => {
    expect(isValidTarget(target)).toBe(valid);
  });
});

describe("validateFileSd", () => {
  it("accepts the documented shape, an empty array, and labels left out", () => {
    const ok = validateFileSd(
      enc(
        JSON.stringify([
          { targets: ["10.0.0.1:9100", "[::1]:80"], labels: { job: "a", __metrics_path__: "/m", empty: "" } },
          { targets: ["h:1"] },
          { targets: [] },
        ]),
      ),
    );
    expect(ok).toMatchObject({ ok: true, targetCount: 3 });
    expect(validateFileSd(enc("[]"))).toEqual({ ok: true, groups: [], targetCount: 0 });
    expect(validateFileSd(enc(" \n[ ]\n"))).toMatchObject({ ok: true });
  });

  it.each([
    ["too_large", enc(JSON.stringify([{ targets: ["a:1"] }]) + " ".repeat(100)), /limit 64/],
    ["not_utf8", Uint8Array.from([0x5b, 0xff, 0xfe, 0x5d]), /UTF-8/],
    ["not_utf8", Uint8Array.from([0x5b, 0xc3, 0x5d]), /UTF-8/],
    ["not_json", enc(""), /not JSON/],
    ["not_json", enc("{nope"), /not JSON/],
    ["not_json", enc('[{"targets":["a:1"]}'), /not JSON/],
    ["not_json", enc("\ufeff[]"), /not JSON/],
    ["not_json", enc("- targets: [a:1]"), /not JSON/],
    ["bad_shape", enc("{}"), /not a JSON array/],
    ["bad_shape", enc("null"), /not a JSON array/],
    ["bad_shape", enc('"[]"'), /not a JSON array/],
    ["bad_shape", enc("[1]"), /\[0\] is not an object/],
    ["bad_shape", enc("[[]]"), /\[0\] is not an object/],
    ["bad_shape", enc('[{"labels":{}}]'), /targets is missing/],
    ["bad_shape", enc('[{"targets":"a:1"}]'), /targets is missing or not an array/],
    ["bad_shape", enc('[{"targets":[1]}]'), /targets\[0\] is not a string/],
    ["bad_shape", enc('[{"targets":["a:1","nope"]}]'), /targets\[1\] "nope" is not host:port/],
    ["bad_shape", enc('[{"targets":[""]}]'), /is not host:port/],
    ["bad_shape", enc('[{"targets":["a:1"],"labels":[]}]'), /labels is not an object/],
    ["bad_shape", enc('[{"targets":["a:1"],"labels":null}]'), /labels is not an object/],
    ["bad_shape", enc('[{"targets":["a:1"],"labels":{"a-b":"x"}}]'), /"a-b" is not a valid label name/],
    ["bad_shape", enc('[{"targets":["a:1"],"labels":{"1a":"x"}}]'), /not a valid label name/],
    ["bad_shape", enc('[{"targets":["a:1"],"labels":{"":"x"}}]'), /not a valid label name/],
    ["bad_shape", enc('[{"targets":["a:1"],"labels":{"a":1}}]'), /labels.a is not a string/],
    ["bad_shape", enc('[{"targets":["a:1"],"labels":{"a":null}}]'), /labels.a is not a string/],
    ["bad_shape", enc('[{"targets":["a:1"],"extra":1}]'), /unexpected field "extra"/],
  ])("rejects %s: %#", (kind, bytes, reason) => {
    const result = validateFileSd(bytes, 64);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.kind).toBe(kind);
      expect(result.reason).toMatch(reason);
    }
  });

  it("copies what it returns (later mutation of the input does not leak)", () => {
    const input = [{ targets: ["a:1"], labels: { x: "1" } }];
    const result = validateFileSdValue(input);
    input[0]?.targets.push("b:2");
    expect(result.ok && result.groups[0]?.targets).toEqual(["a:1"]);
  });
});
