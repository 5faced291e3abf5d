import { describe, expect, it } from "vitest";
import { assumedRoleCredentials } from "../../lambda/aws/account-access.js";
import { loadEngineConfig } from "../../lambda/config.js";
import {
  accountEnvironment,
  DEFAULT_ACCOUNT_ROLE_ARN,
  readAccountSettings,
  roleArnFor,
} from "../../lambda/shared/account-settings.js";
import { ConfigError } from "../../lambda/shared/settings.js";

describe("ACCOUNTS, ACCOUNT_ROLE_ARN, ACCOUNT_ROLE_EXTERNAL_ID", () => {
  it("unset: the own account only, and no accounts in the engine's config", () => {
    expect(readAccountSettings({})).toEqual({ accounts: [], roleArn: DEFAULT_ACCOUNT_ROLE_ARN });
    expect(loadEngineConfig({}).accounts).toBeUndefined();
  });

  it("reads a list separated by commas or spaces, deduplicated, in order", () => {
    const settings = readAccountSettings({
      ACCOUNTS: " 111111111111, 222222222222 111111111111",
      ACCOUNT_ROLE_EXTERNAL_ID: "org-wide:secret",
    });
    expect(settings).toEqual({
      accounts: ["111111111111", "222222222222"],
      roleArn: "arn:aws:iam::{account}:role/prometheus-ecs-discovery-reader",
      externalId: "org-wide:secret",
    });
    expect(loadEngineConfig({ ACCOUNTS: "111111111111" }).accounts?.accounts).toEqual(["111111111111"]);
  });

  it.each([
    [{ ACCOUNTS: "12345" }, /ACCOUNTS has "12345", which is not a 12-digit AWS account id/],
    [{ ACCOUNTS: "111111111111,abc" }, /ACCOUNTS has "abc"/],
    [
      { ACCOUNT_ROLE_ARN: "arn:aws:iam::111111111111:role/x" },
      /ACCOUNT_ROLE_ARN must be an IAM role ARN with \{account\}/,
    ],
    [{ ACCOUNT_ROLE_ARN: "arn:aws:iam::{account}:user/x" }, /ACCOUNT_ROLE_ARN must be an IAM role ARN/],
    [{ ACCOUNT_ROLE_EXTERNAL_ID: "x" }, /ACCOUNT_ROLE_EXTERNAL_ID must be 2 to 1224/],
    [{ ACCOUNT_ROLE_EXTERNAL_ID: "has space" }, /ACCOUNT_ROLE_EXTERNAL_ID must be 2 to 1224/],
  ])("rejects %j with a message naming the variable", (env, message) => {
    expect(() => readAccountSettings(env)).toThrow(ConfigError);
    expect(() => readAccountSettings(env)).toThrow(message);
  });

  it("puts the account into the role ARN, paths and partitions included", () => {
    expect(roleArnFor(DEFAULT_ACCOUNT_ROLE_ARN, "222222222222")).toBe(
      "arn:aws:iam::222222222222:role/prometheus-ecs-discovery-reader",
    );
    const template = "arn:aws-cn:iam::{account}:role/ops/ecs-reader";
    expect(readAccountSettings({ ACCOUNT_ROLE_ARN: template }).roleArn).toBe(template);
    expect(roleArnFor(template, "333333333333")).toBe("arn:aws-cn:iam::333333333333:role/ops/ecs-reader");
  });

  it("the construct's environment is checked by the same rules", () => {
    expect(accountEnvironment({ accounts: ["111111111111"], externalId: "abc" })).toEqual({
      ACCOUNTS: "111111111111",
      ACCOUNT_ROLE_EXTERNAL_ID: "abc",
    });
    expect(() => accountEnvironment({ accounts: ["1"] })).toThrow(/ACCOUNTS/);
  });
});

describe("assumed-role credentials", () => {
  const issue = (lifetimeMs: number, clock: { now: number }, calls: { n: number }) => async () => {
    calls.n++;
    return {
      accessKeyId: `ASIA${calls.n}`,
      secretAccessKey: "s",
      sessionToken: "t",
      expiration: new Date(clock.now + lifetimeMs),
    };
  };

  it("are asked for once, then again only five minutes before they expire", async () => {
    const clock = { now: 0 };
    const calls = { n: 0 };
    const provider = assumedRoleCredentials(issue(3_600_000, clock, calls), () => clock.now);
    await Promise.all([provider(), provider(), provider()]);
    expect(calls.n).toBe(1);
    clock.now = 3_600_000 - 300_001;
    expect((await provider()).accessKeyId).toBe("ASIA1");
    clock.now = 3_600_000 - 299_999;
    expect((await provider()).accessKeyId).toBe("ASIA2");
    expect(calls.n).toBe(2);
  });

  it("short-lived ones are refreshed a quarter of their life early, not on every call", async () => {
    const clock = { now: 0 };
    const calls = { n: 0 };
    const provider = assumedRoleCredentials(issue(8_000, clock, calls), () => clock.now);
    await provider();
    clock.now = 5_999;
    await provider();
    expect(calls.n).toBe(1);
    clock.now = 6_000;
    await provider();
    expect(calls.n).toBe(2);
  });

  it("a failure is not kept: the next call asks again", async () => {
    let fail = true;
    const provider = assumedRoleCredentials(async () => {
      if (fail) throw new Error("AccessDenied");
      return { accessKeyId: "ASIA", secretAccessKey: "s" };
    });
    await expect(provider()).rejects.toThrow("AccessDenied");
    fail = false;
    await expect(provider()).resolves.toMatchObject({ accessKeyId: "ASIA" });
  });
});
