import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { serializeGroups, validateFileSd } from "../../lambda/shared/file-sd.js";
import { checkObject } from "../../sidecar/object-check.js";

const LIMIT = 1024 * 1024;

/** checkObject must say exactly what the reference says, and serve what the reference's groups serialize to. */
function expectSameVerdict(input: string | Uint8Array, limit = LIMIT): void {
  const bytes = typeof input === "string" ? Buffer.from(input) : input;
  const reference = validateFileSd(bytes, limit);
  const check = checkObject(bytes, limit);
  if (!reference.ok) {
    expect(check).toEqual(reference);
    return;
  }
  expect(check.ok).toBe(true);
  if (!check.ok) return;
  expect(check.compact.toString("utf8")).toBe(JSON.stringify(reference.groups).slice(1, -1));
  expect(check.targets).toBe(reference.targetCount);
  expect(check.groups).toBe(reference.groups.length);
}

const engineForm = serializeGroups([
  { targets: ["10.0.0.2:80", "10.0.0.1:80"], labels: { job: "a", note: 'x,]}["\\' } },
  { targets: ["[::1]:9100"], labels: {} },
  { targets: ["host.example.com:443"], labels: { __scheme__: "https", é: "ü" } },
]);

describe("checkObject (the sidecar's low-memory validation) against validateFileSd", () => {
  it.each([
    ["the engine's form", engineForm],
    ["compact", JSON.stringify([{ targets: ["10.0.0.1:80"], labels: { a: "b" } }])],
    ["pretty-printed", JSON.stringify([{ targets: ["10.0.0.1:80"], labels: { a: "b" } }], null, 2)],
    ["labels before targets", '[{"labels":{"a":"b"},"targets":["10.0.0.1:80"]}]'],
    ["duplicate keys (the last wins)", '[{"targets":["bad"],"targets":["10.0.0.1:80"]}]'],
    ["duplicate labels", '[{"targets":["10.0.0.1:80"],"labels":{"a":1,"a":"2"}}]'],
    ["escapes and unicode", '[{"targets":["10.0.0.1:80"],"labels":{"a":"\\u0041\\/\\n\\"\\\\ \u2028 😀"}}]'],
    ["no labels", '[{"targets":["10.0.0.1:80"]},{"targets":[]}]'],
    ["empty", "[]"],
    ["empty with whitespace", " \n[ \t\r\n] \n"],
    ["brackets in strings", '[{"targets":["10.0.0.1:80"],"labels":{"a":"]","b":"[{,}","c":"\\\\"}}]'],
    ["a trailing comma", '[{"targets":["10.0.0.1:80"]},]'],
    ["a leading comma", '[,{"targets":["10.0.0.1:80"]}]'],
    ["only a comma", "[,]"],
    ["a missing comma", '[{"targets":["10.0.0.1:80"]} {"targets":[]}]'],
    ["garbage after the array", '[{"targets":["10.0.0.1:80"]}] x'],
    ["a second array", "[] []"],
    ["an extra bracket", '[{"targets":["10.0.0.1:80"]}]]'],
    ["an unclosed array", '[{"targets":["10.0.0.1:80"]}'],
    ["an unclosed string", '[{"targets":["10.0.0.1:80]}]'],
    ["a byte order mark", `\ufeff${engineForm}`],
    ["not an array", '{"targets":["10.0.0.1:80"]}'],
    ["an array of numbers", "[1,2]"],
    ["a bad target", '[{"targets":["10.0.0.1"]}]'],
    ["an extra field", '[{"targets":["10.0.0.1:80"],"x":1}]'],
    ["a bad label name", '[{"targets":["10.0.0.1:80"],"labels":{"1a":"b"}}]'],
    ["a bad shape before bad JSON", '[{"targets":["nope"]}, oops]'],
    ["nothing", ""],
  ])("%s", (_, text) => expectSameVerdict(text));

  it("not UTF-8, and too large", () => {
    expectSameVerdict(Uint8Array.from([0x5b, 0xff, 0x5d]));
    expectSameVerdict(engineForm, 10);
  });

  it("agrees on any mutation of a valid document", () => {
    const alphabet = [...'[]{},:"\\ \nabtrgelsx0123456789.:'];
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(), cut: fc.nat(3), insert: fc.constantFrom(...alphabet, "") }), {
          maxLength: 3,
        }),
        (edits) => {
          let text = engineForm;
          for (const { at, cut, insert } of edits) {
            const i = at % (text.length + 1);
            text = text.slice(0, i) + insert + text.slice(i + cut);
          }
          expectSameVerdict(text);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
