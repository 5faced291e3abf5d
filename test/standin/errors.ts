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

/** The error codes the stand-in counts as throttles (ECS, EC2 and STS). */
export const THROTTLE_CODES: ReadonlySet<string> = new Set([
  "ThrottlingException",
  "RequestLimitExceeded",
  "Throttling",
]);

/**
 * What each service answers a request signed with temporary credentials that have expired, or that it
 * does not know (an `ASIA…` key the stand-in never issued, or the wrong session token).
 */
export function credentialError(service: "ecs" | "ec2" | "sts", problem: "expired" | "invalid"): ApiError {
  const expired = problem === "expired";
  switch (service) {
    case "ecs":
      return expired
        ? new ApiError("ExpiredTokenException", 400, "The security token included in the request is expired")
        : new ApiError(
            "UnrecognizedClientException",
            400,
            "The security token included in the request is invalid.",
          );
    case "ec2":
      return expired
        ? new ApiError("RequestExpired", 400, "Request has expired.")
        : new ApiError("AuthFailure", 401, "AWS was not able to validate the provided access credentials");
    default:
      return expired
        ? new ApiError("ExpiredToken", 403, "The security token included in the request is expired")
        : new ApiError("InvalidClientTokenId", 403, "The security token included in the request is invalid.");
  }
}
