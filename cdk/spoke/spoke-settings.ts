import { checkSpokeProps } from "./spoke-construct.js";
import type { SpokeSettings } from "./spoke-stack.js";

/** Context key of the spokes' settings (`cdk.json` → `context.spoke`, or `-c spoke='{"hubAccountId":"…"}'`). */
export const SPOKE_SETTINGS_KEY = "spoke";

const KNOWN = new Set([
  "hubAccountId",
  "hubFunctionRoleArn",
  "externalId",
  "organizationId",
  "hubEventBusName",
  "clusters",
  "readerRoleRegion",
]);
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/**
 * The spokes' settings from context: an object (cdk.json) or a JSON string (`-c spoke='{...}'`); `clusters`
 * may be a list or a comma-separated string. They become the parameters' defaults, so a setting left out here
 * can still be given with `cdk deploy --parameters`; checked as the construct checks its props.
 */
export function parseSpokeSettings(value: unknown): SpokeSettings {
  if (value === undefined) return {};
  const parsed: unknown = typeof value === "string" ? JSON.parse(value) : value;
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new Error(`context "${SPOKE_SETTINGS_KEY}" must be an object`);
  const raw = parsed as Record<string, unknown>;
  for (const [key, v] of Object.entries(raw)) {
    if (!KNOWN.has(key)) throw new Error(`context "${SPOKE_SETTINGS_KEY}" has unknown setting "${key}"`);
    if (key !== "clusters" && typeof v !== "string")
      throw new Error(`context "${SPOKE_SETTINGS_KEY}" setting "${key}" must be a string`);
  }
  const clusters =
    typeof raw.clusters === "string" ? raw.clusters.split(/[,\s]+/).filter((c) => c !== "") : raw.clusters;
  if (clusters !== undefined && (!Array.isArray(clusters) || clusters.some((c) => typeof c !== "string")))
    throw new Error(`context "${SPOKE_SETTINGS_KEY}" setting "clusters" must list cluster names`);
  const settings = { ...raw, ...(clusters !== undefined ? { clusters } : {}) } as SpokeSettings;
  if (settings.readerRoleRegion !== undefined && !REGION.test(settings.readerRoleRegion))
    throw new Error(`context "${SPOKE_SETTINGS_KEY}" setting "readerRoleRegion" is not an AWS region name`);
  checkSpokeProps(settings);
  return settings;
}
