/**
 * An API error as the stand-in answers it. `code` is the AWS error code (the SDK turns it into the
 * exception `name`), `status` the HTTP status AWS uses for it.
 */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = code;
  }
}

export function invalidParameter(message: string): ApiError {
  return new ApiError("InvalidParameterException", 400, message);
}

export function clusterNotFound(): ApiError {
  // AWS's exact message for every operation that names an unknown cluster.
  return new ApiError("ClusterNotFoundException", 400, "Cluster not found.");
}

/** The error codes the stand-in counts as throttles (both services). */
export const THROTTLE_CODES: ReadonlySet<string> = new Set(["ThrottlingException", "RequestLimitExceeded"]);
