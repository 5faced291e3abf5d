/**
 * What an AWS SDK error means, in one place: the function and the sidecar ask these questions instead of
 * matching error names themselves. Errors are read by shape (name, HTTP status), so no SDK import is
 * needed. Dependency-free.
 */
import { httpStatusOf } from "./values.js";

function nameOf(error: unknown): string {
  const name = (error as { name?: unknown } | undefined)?.name;
  return typeof name === "string" ? name : "";
}

// ECS and most services say ThrottlingException; EC2 says RequestLimitExceeded; S3 says SlowDown.
const THROTTLE_NAMES = new Set([
  "ThrottlingException",
  "Throttling",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "SlowDown",
  "RequestThrottled",
  "RequestThrottledException",
]);

/** AWS refused the call for its rate: retrying later helps. */
export function isThrottle(error: unknown): boolean {
  return THROTTLE_NAMES.has(nameOf(error)) || httpStatusOf(error) === 429;
}

/** The cluster was deleted (or never existed): its objects go with the next complete listing. */
export function isClusterGone(error: unknown): boolean {
  return nameOf(error) === "ClusterNotFoundException";
}

/** ECS: ListTasks was given a service the cluster does not have. */
export function isServiceNotFound(error: unknown): boolean {
  return nameOf(error) === "ServiceNotFoundException";
}

/**
 * ECS answers ClientException (or InvalidParameterException) for a task definition it will not describe,
 * for example one being deleted. Retrying cannot help; throttles, 5xx and access denied are different.
 */
export function isUnusableDefinition(error: unknown): boolean {
  const name = nameOf(error);
  return name === "ClientException" || name === "InvalidParameterException";
}

/** S3: the object does not exist. */
export function isNotFound(error: unknown): boolean {
  const name = nameOf(error);
  return name === "NoSuchKey" || name === "NotFound" || httpStatusOf(error) === 404;
}

/**
 * S3: a conditional GET whose ETag still matches. The SDK surfaces the 304 as an error named "Unknown", so
 * the status is what tells.
 */
export function isNotModified(error: unknown): boolean {
  return httpStatusOf(error) === 304;
}

/**
 * S3: a conditional write lost its race. 412 when the object changed since it was read; 409 while another
 * conditional write to the same key is in flight.
 */
export function isWriteConflict(error: unknown): boolean {
  const status = httpStatusOf(error);
  return status === 412 || status === 409;
}
