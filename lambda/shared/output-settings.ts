/**
 * The output half of the settings contract: where the function writes (bucket and key prefixes) and the
 * rules every bucket name and prefix follows, wherever it is set (the function's environment, the CLI's
 * flags, the construct's props, the sidecar). Variable names come from `settings.ts`.
 */
import {
  ConfigError,
  DEFAULT_STATE_PREFIX,
  DEFAULT_TARGETS_PREFIX,
  type Env,
  read,
  VARIABLES,
} from "./settings.js";

export interface OutputSettings {
  bucket: string;
  /** Prefix of the file_sd objects; objects are `{prefix}{account}/{region}/{cluster}.json`. */
  prefix: string;
  /** Prefix of the function's own state objects; kept apart so readers of `prefix` see file_sd JSON only. */
  statePrefix: string;
  /**
   * The bucket's region, when it is not the function's (one central bucket for several regions): S3 would
   * answer every request with a redirect, and the SDK does not remember one.
   */
  bucketRegion?: string;
}

const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function isBucketName(value: string): boolean {
  return BUCKET_NAME.test(value);
}

/** `bucket`, checked; `variable` names where it came from (a variable or a command line flag). */
export function checkBucket(bucket: string | undefined, variable: string = VARIABLES.bucket): string {
  if (bucket === undefined)
    throw new ConfigError(variable, "is required (the S3 bucket for the file_sd objects)");
  if (!isBucketName(bucket)) throw new ConfigError(variable, `is not a valid S3 bucket name: "${bucket}"`);
  return bucket;
}

/**
 * One rule for every key prefix, wherever it is set: non-empty, ends with "/", and nothing that would
 * make a key ambiguous or a policy pattern wider than meant (a leading "/", "..", white space, "*", "?",
 * "\").
 */
function checkPrefix(value: string, variable: string): string {
  if (value === "" || !value.endsWith("/"))
    throw new ConfigError(variable, `must be a key prefix ending with "/", got "${value}"`);
  if (value.startsWith("/") || value.includes("..") || /[\s\\*?]/.test(value)) {
    throw new ConfigError(
      variable,
      `must be an S3 key prefix without a leading "/", "..", spaces, "*", "?" or "\\", got "${value}"`,
    );
  }
  return value;
}

/**
 * The state objects must stay out of reach of the file_sd readers, and clean-up of one prefix must never
 * touch the other: neither prefix may contain the other.
 */
export function checkPrefixes(
  prefix: string,
  statePrefix: string,
  names: { prefix: string; statePrefix: string } = {
    prefix: VARIABLES.targetsPrefix,
    statePrefix: VARIABLES.statePrefix,
  },
): { prefix: string; statePrefix: string } {
  checkPrefix(prefix, names.prefix);
  checkPrefix(statePrefix, names.statePrefix);
  if (statePrefix.startsWith(prefix) || prefix.startsWith(statePrefix)) {
    throw new ConfigError(
      names.statePrefix,
      `"${statePrefix}" and ${names.prefix} "${prefix}" must not overlap (neither may start with the other)`,
    );
  }
  return { prefix, statePrefix };
}

/** Where the function writes, from the environment. */
export function readOutputSettings(env: Env): OutputSettings {
  const bucket = checkBucket(read(env, VARIABLES.bucket));
  const prefixes = checkPrefixes(
    read(env, VARIABLES.targetsPrefix) ?? DEFAULT_TARGETS_PREFIX,
    read(env, VARIABLES.statePrefix) ?? DEFAULT_STATE_PREFIX,
  );
  const bucketRegion = read(env, VARIABLES.bucketRegion);
  if (bucketRegion !== undefined && !REGION.test(bucketRegion))
    throw new ConfigError(VARIABLES.bucketRegion, `is not an AWS region name: "${bucketRegion}"`);
  return { bucket, ...prefixes, ...(bucketRegion ? { bucketRegion } : {}) };
}
