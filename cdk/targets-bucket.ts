import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as s3 from "aws-cdk-lib/aws-s3";
import type { Construct } from "constructs";
import { DEFAULTS, type EcsDiscoveryProps } from "./props.js";

/**
 * The bucket the function writes to: `existingBucketName` as it is (its settings are its owner's job; in
 * `existingBucketRegion` when that is given), or a new bucket that is encrypted, private, TLS-only and
 * versioned, with old versions expiring.
 */
export function buildTargetsBucket(scope: Construct, props: EcsDiscoveryProps): s3.IBucket {
  if (props.existingBucketName !== undefined) {
    if (props.existingBucketRegion === undefined)
      return s3.Bucket.fromBucketName(scope, "TargetsBucket", props.existingBucketName);
    return s3.Bucket.fromBucketAttributes(scope, "TargetsBucket", {
      bucketName: props.existingBucketName,
      region: props.existingBucketRegion,
    });
  }
  return new s3.Bucket(scope, "TargetsBucket", {
    ...(props.bucketName !== undefined ? { bucketName: props.bucketName } : {}),
    encryption: s3.BucketEncryption.S3_MANAGED,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    versioned: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    removalPolicy: props.bucketRemovalPolicy ?? RemovalPolicy.RETAIN,
    lifecycleRules: [
      {
        id: "expire-old-versions",
        noncurrentVersionExpiration: Duration.days(
          props.noncurrentVersionRetentionDays ?? DEFAULTS.noncurrentVersionRetentionDays,
        ),
        expiredObjectDeleteMarker: true,
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      },
    ],
    ...(props.accessLogsBucket
      ? {
          serverAccessLogsBucket: props.accessLogsBucket,
          serverAccessLogsPrefix: "prometheus-ecs-discovery/",
        }
      : {}),
  });
}
