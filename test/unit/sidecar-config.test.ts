import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig, parseDuration, parseListen, parseSize } from "../../sidecar/config.js";

const base = ["--bucket", "my-bucket", "--out-dir", "/tmp/sd"];

describe("parseConfig", () => {
  it("has the documented defaults", () => {
    expect(parseConfig(base, {})).toEqual({
      buckets: [{ name: "my-bucket" }],
      prefix: "targets/",
      outDir: "/tmp/sd",
      intervalMs: 5000,
      listen: undefined,
      once: false,
      maxObjectBytes: 64 * 1024 * 1024,
      freshnessIntervals: 3,
      syncTimeoutMs: 300_000,
      trustEmptyListing: false,
      help: false,
    });
  });

  it("reads the environment; flags win", () => {
    const env = {
      SIDECAR_BUCKET: "env-bucket",
      SIDECAR_PREFIX: "",
      SIDECAR_OUT_DIR: "/env",
      SIDECAR_INTERVAL: "1m30s",
      SIDECAR_LISTEN: ":9488",
      SIDECAR_ONCE: "true",
      SIDECAR_MAX_OBJECT_SIZE: "1MiB",
      SIDECAR_HEALTH_INTERVALS: "5",
      SIDECAR_SYNC_TIMEOUT: "2m",
      SIDECAR_TRUST_EMPTY_LISTING: "1",
    };
    expect(parseConfig([], env)).toMatchObject({
      buckets: [{ name: "env-bucket" }],
      prefix: "",
      outDir: "/env",
      intervalMs: 90_000,
      listen: { host: "0.0.0.0", port: 9488 },
      once: true,
      maxObjectBytes: 1024 * 1024,
      freshnessIntervals: 5,
      syncTimeoutMs: 120_000,
      trustEmptyListing: true,
    });
    expect(
      parseConfig(
        ["--bucket=flag-bucket", "--interval", "10s", "--once=false", "--listen", "127.0.0.1:0"],
        env,
      ),
    ).toMatchObject({
      buckets: [{ name: "flag-bucket" }],
      intervalMs: 10_000,
      once: false,
      listen: { host: "127.0.0.1", port: 0 },
    });
  });

  it.each([
    [[], /--bucket is required/],
    [["--bucket", "b-ok"], /--out-dir is required/],
    [["--bucket", "B_AD", "--out-dir", "/x"], /--bucket: "B_AD" is not a valid S3 bucket name/],
    [[...base, "--interval", "5"], /--interval: "5" is not a duration/],
    [[...base, "--interval", "500ms"], /--interval: 500ms is shorter than the 1s minimum/],
    [[...base, "--listen", "nope"], /--listen: "nope" is not HOST:PORT/],
    [[...base, "--listen", "h:70000"], /--listen/],
    [[...base, "--max-object-size", "lots"], /--max-object-size/],
    [[...base, "--health-intervals", "0"], /--health-intervals/],
    [[...base, "--freshness-intervals", "x"], /--freshness-intervals: "x" is not a whole number/],
    [
      [...base, "--freshness-intervals", "4", "--health-intervals", "5"],
      /--freshness-intervals is 4 but --health-intervals, its older name, is 5/,
    ],
    [[...base, "--sync-timeout", "500ms"], /--sync-timeout: 500ms is shorter than the 1s minimum/],
    [[...base, "--sync-timeout", "2h"], /--sync-timeout: 2h is longer than 1h/],
    [[...base, "--once=maybe"], /--once: expected true or false/],
    [[...base, "--bogus"], /unknown flag --bogus/],
    [[...base, "stray"], /unexpected argument "stray"/],
    [["--bucket"], /--bucket needs a value/],
    [["--bucket", "--out-dir", "/x"], /--bucket needs a value/],
  ])("%j → %s", (argv, message) => {
    expect(() => parseConfig(argv, {})).toThrow(ConfigError);
    expect(() => parseConfig(argv, {})).toThrow(message);
  });

  it("reads several buckets: the flag repeated, comma-separated, or SIDECAR_BUCKET as a list; order kept", () => {
    const buckets = (argv: string[], env: Record<string, string> = {}) =>
      parseConfig([...argv, "--out-dir", "/x"], env).buckets;
    expect(buckets(["--bucket", "sd-eu", "--bucket", "sd-us@us-east-1"])).toEqual([
      { name: "sd-eu" },
      { name: "sd-us", region: "us-east-1" },
    ]);
    expect(buckets(["--bucket", "sd-b,sd-a", "--bucket=sd-c@ap-southeast-2"])).toEqual([
      { name: "sd-b" },
      { name: "sd-a" },
      { name: "sd-c", region: "ap-southeast-2" },
    ]);
    expect(buckets([], { SIDECAR_BUCKET: " sd-a , sd-b@eu-central-1 " })).toEqual([
      { name: "sd-a" },
      { name: "sd-b", region: "eu-central-1" },
    ]);
    // flags win over the variable as a whole, not bucket by bucket
    expect(buckets(["--bucket", "sd-flag"], { SIDECAR_BUCKET: "sd-a,sd-b" })).toEqual([{ name: "sd-flag" }]);
  });

  it.each([
    [["--bucket", "sd-a", "--bucket", "Bad_Name"], /^--bucket: "Bad_Name" is not a valid S3 bucket name/],
    [["--bucket", "sd-a,,sd-b"], /^--bucket: an empty bucket name in the list/],
    [["--bucket", "sd-a,"], /^--bucket: an empty bucket name in the list/],
    [["--bucket", "sd-a", "--bucket", "sd-a@eu-west-1"], /^--bucket: bucket "sd-a" is named twice/],
    [["--bucket", "sd-a@mars"], /^--bucket: "mars" in "sd-a@mars" is not an AWS region/],
    [["--bucket", "sd-a@"], /^--bucket: "" in "sd-a@" is not an AWS region/],
    [["--bucket", "@eu-west-1"], /^--bucket: "" is not a valid S3 bucket name/],
    [["--bucket", ""], /^--bucket is required/],
  ])("several buckets: %j → %s", (argv, message) => {
    expect(() => parseConfig([...argv, "--out-dir", "/x"], {})).toThrow(ConfigError);
    expect(() => parseConfig([...argv, "--out-dir", "/x"], {})).toThrow(message);
  });

  it.each([
    ["sd-a,x_y", /^--bucket \(from SIDECAR_BUCKET\): "x_y" is not a valid S3 bucket name/],
    ["sd-a,sd-a", /^--bucket \(from SIDECAR_BUCKET\): bucket "sd-a" is named twice/],
    ["sd-a;sd-b", /^--bucket \(from SIDECAR_BUCKET\): "sd-a;sd-b" is not a valid S3 bucket name/],
    [
      "sd-a@eu_west_1",
      /^--bucket \(from SIDECAR_BUCKET\): "eu_west_1" in "sd-a@eu_west_1" is not an AWS region/,
    ],
    [",", /^--bucket \(from SIDECAR_BUCKET\): an empty bucket name/],
  ])("SIDECAR_BUCKET=%j names the variable", (value, message) => {
    expect(() => parseConfig(["--out-dir", "/x"], { SIDECAR_BUCKET: value })).toThrow(message);
  });

  it("--freshness-intervals, and --health-intervals, its older name: a flag of either wins over the environment", () => {
    const fresh = (argv: string[], env: Record<string, string>) =>
      parseConfig([...base, ...argv], env).freshnessIntervals;
    expect(fresh(["--freshness-intervals", "4"], {})).toBe(4);
    expect(fresh(["--health-intervals", "6"], {})).toBe(6);
    expect(fresh(["--freshness-intervals", "7", "--health-intervals", "7"], {})).toBe(7);
    expect(fresh([], { SIDECAR_FRESHNESS_INTERVALS: "8" })).toBe(8);
    expect(fresh([], { SIDECAR_HEALTH_INTERVALS: "9" })).toBe(9);
    expect(fresh(["--health-intervals", "2"], { SIDECAR_FRESHNESS_INTERVALS: "8" })).toBe(2);
    expect(() => fresh([], { SIDECAR_FRESHNESS_INTERVALS: "2", SIDECAR_HEALTH_INTERVALS: "3" })).toThrow(
      /--freshness-intervals \(from SIDECAR_FRESHNESS_INTERVALS\) is 2 but --health-intervals \(from SIDECAR_HEALTH_INTERVALS\)/,
    );
  });

  it("names the environment variable when its value is bad", () => {
    expect(() => parseConfig(base, { SIDECAR_ONCE: "perhaps" })).toThrow(/SIDECAR_ONCE/);
  });

  it("--help needs nothing else", () => {
    expect(parseConfig(["--help"], {}).help).toBe(true);
  });
});

describe("value parsers", () => {
  it.each([
    ["5s", 5000],
    ["1m", 60_000],
    ["1m30s", 90_000],
    ["1500ms", 1500],
    ["1.5s", 1500],
    ["2h", 7_200_000],
    ["5", undefined],
    ["s", undefined],
    ["5 s", undefined],
    ["-5s", undefined],
  ])("duration %s → %s", (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each([
    ["1048576", 1048576],
    ["512KiB", 512 * 1024],
    ["10MiB", 10 * 1024 * 1024],
    ["10mb", 10 * 1024 * 1024],
    ["ten", undefined],
  ])("size %s → %s", (text, bytes) => expect(parseSize(text)).toBe(bytes));

  it.each([
    ["127.0.0.1:9488", { host: "127.0.0.1", port: 9488 }],
    [":9488", { host: "0.0.0.0", port: 9488 }],
    ["[::]:9488", { host: "::", port: 9488 }],
    ["localhost:0", { host: "localhost", port: 0 }],
    ["9488", undefined],
    ["h:99999", undefined],
    ["::1:80", undefined],
  ])("listen %s", (text, expected) => expect(parseListen(text)).toEqual(expected));
});

describe("errors from the environment", () => {
  it.each([
    [{ SIDECAR_INTERVAL: "soon" }, /--interval \(from SIDECAR_INTERVAL\): "soon" is not a duration/],
    [{ SIDECAR_LISTEN: "x" }, /--listen \(from SIDECAR_LISTEN\)/],
    [{ SIDECAR_MAX_OBJECT_SIZE: "big" }, /--max-object-size \(from SIDECAR_MAX_OBJECT_SIZE\)/],
    [{ SIDECAR_HEALTH_INTERVALS: "-1" }, /--health-intervals \(from SIDECAR_HEALTH_INTERVALS\)/],
    [{ SIDECAR_FRESHNESS_INTERVALS: "0" }, /--freshness-intervals \(from SIDECAR_FRESHNESS_INTERVALS\)/],
    [{ SIDECAR_SYNC_TIMEOUT: "never" }, /--sync-timeout \(from SIDECAR_SYNC_TIMEOUT\)/],
    [{ SIDECAR_TRUST_EMPTY_LISTING: "sure" }, /--trust-empty-listing \(from SIDECAR_TRUST_EMPTY_LISTING\)/],
  ])("%j names the variable", (env, message) => {
    expect(() => parseConfig(["--bucket", "my-bucket", "--out-dir", "/x"], env)).toThrow(message);
  });

  it("a flag's error names only the flag", () => {
    expect(() =>
      parseConfig(["--bucket", "my-bucket", "--out-dir", "/x", "--interval", "soon"], {
        SIDECAR_INTERVAL: "5s",
      }),
    ).toThrow(/^--interval: "soon"/);
  });
});
