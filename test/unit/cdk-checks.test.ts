import { Duration } from "aws-cdk-lib";
import * as logs from "aws-cdk-lib/aws-logs";
import { describe, expect, it } from "vitest";
import { LOG_RETENTION_DAYS } from "../../cdk/checks.js";
import { parseSettings, settingsForRegion } from "../../cdk/settings.js";
import { synthConstruct } from "../support/cdk.js";

describe("reservedConcurrency", () => {
  it("is rejected below eventMaxConcurrency + 1, naming both props", () => {
    expect(() => synthConstruct({ reservedConcurrency: 2 })).toThrow(
      /reservedConcurrency 2 is below eventMaxConcurrency 2 \+ 1: .*scheduled reconcile needs one more.*at least 3/,
    );
  });
  it("is rejected below a configured eventMaxConcurrency + 1", () => {
    expect(() => synthConstruct({ eventMaxConcurrency: 5, reservedConcurrency: 5 })).toThrow(
      /reservedConcurrency 5 is below eventMaxConcurrency 5 \+ 1/,
    );
  });
  it("is rejected at zero, which would stop the function", () => {
    expect(() => synthConstruct({ reservedConcurrency: 0 })).toThrow(/reservedConcurrency 0 is below/);
  });
  it("is accepted at eventMaxConcurrency + 1", () => {
    expect(() => synthConstruct({ reservedConcurrency: 3 })).not.toThrow();
  });
});

describe("eventMaxConcurrency", () => {
  it("is rejected outside Lambda's range of 2 to 1000", () => {
    expect(() => synthConstruct({ eventMaxConcurrency: 1 })).toThrow(
      /eventMaxConcurrency must be a whole number from 2 to 1000.*got 1/,
    );
  });
});

describe("logRetention", () => {
  it("is rejected unless CloudWatch Logs accepts it, naming the prop", () => {
    expect(() => synthConstruct({ logRetention: 10 as logs.RetentionDays })).toThrow(
      /logRetention must be one of the retention periods CloudWatch Logs accepts \(1, 3, 5, 7, 14, 30, .* 3653 days\), or 9999 to keep logs forever; got 10/,
    );
  });
  it("lists exactly the values of logs.RetentionDays", () => {
    expect(LOG_RETENTION_DAYS).toContain(logs.RetentionDays.THIRTEEN_MONTHS);
    expect(LOG_RETENTION_DAYS).toHaveLength(23);
  });
});

describe("logRetentionDays in cdk.json", () => {
  it("is rejected unless CloudWatch Logs accepts it, naming the setting", () => {
    expect(() => settingsForRegion({ logRetentionDays: 10 }, "eu-west-1")).toThrow(
      /discovery setting "logRetentionDays" must be one of the retention periods CloudWatch Logs accepts .* got 10 \(region eu-west-1\)/,
    );
  });
  it("is checked in byRegion too", () => {
    expect(() =>
      settingsForRegion({ byRegion: { "us-east-1": { logRetentionDays: 31 } } }, "us-east-1"),
    ).toThrow(/"logRetentionDays" .* got 31 \(region us-east-1\)/);
  });
  it("is rejected when not a number", () => {
    expect(() => settingsForRegion(parseSettings('{"logRetentionDays":"30"}'), "eu-west-1")).toThrow(
      /got "30"/,
    );
  });
  it("accepts an accepted period, and 9999 (forever)", () => {
    expect(settingsForRegion({ logRetentionDays: 400 }, "eu-west-1").logRetention).toBe(400);
    expect(settingsForRegion({ logRetentionDays: 9999 }, "eu-west-1").logRetention).toBe(9999);
  });
});

describe("alarmEmail", () => {
  it("is rejected unless it is one e-mail address", () => {
    expect(() => synthConstruct({ alarmEmail: "oncall" })).toThrow(
      /alarmEmail must be one e-mail address such as oncall@example.com, got "oncall"/,
    );
    expect(() => synthConstruct({ alarmEmail: "a@example.com,b@example.com" })).toThrow(/alarmEmail/);
  });
  it("is a cdk.json setting", () => {
    expect(
      settingsForRegion(parseSettings({ alarmEmail: "oncall@example.com" }), "eu-west-1").alarmEmail,
    ).toBe("oncall@example.com");
  });
});

describe("eventQueueAgeThreshold", () => {
  it("is rejected under a minute", () => {
    expect(() => synthConstruct({ eventQueueAgeThreshold: Duration.seconds(30) })).toThrow(
      /eventQueueAgeThreshold must be whole seconds, at least 60, got 30/,
    );
  });
  it("is the cdk.json setting eventQueueAgeThresholdSeconds", () => {
    const props = settingsForRegion(parseSettings({ eventQueueAgeThresholdSeconds: 600 }), "eu-west-1");
    expect(props.eventQueueAgeThreshold?.toSeconds()).toBe(600);
  });
});
