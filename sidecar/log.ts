/** Structured logging: one JSON object per line, to stdout (or wherever the sink points). */
import { describeError } from "../lambda/shared/values.js";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
}

export type LogSink = (line: string) => void;

const stdoutSink: LogSink = (line) => {
  process.stdout.write(`${line}\n`);
};

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function isLogLevel(value: string): value is LogLevel {
  return Object.hasOwn(LEVELS, value);
}

/**
 * A logger writing `{"time","level","event",...fields}` lines, dropping those below `minLevel`.
 * Errors are reduced to one line (describeError): JSON.stringify would turn an Error into `{}`.
 */
export function jsonLogger(sink: LogSink = stdoutSink, minLevel: LogLevel = "debug"): Logger {
  return {
    log(level, event, fields = {}) {
      if (LEVELS[level] < LEVELS[minLevel]) return;
      const record: Record<string, unknown> = { time: new Date().toISOString(), level, event };
      for (const [name, value] of Object.entries(fields)) {
        if (value === undefined) continue;
        record[name] = value instanceof Error ? describeError(value) : value;
      }
      sink(JSON.stringify(record));
    },
  };
}

/** A logger that keeps records in memory (tests). */
export function memoryLogger(): Logger & { records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const inner = jsonLogger((line) => records.push(JSON.parse(line) as Record<string, unknown>));
  return { records, log: inner.log };
}
