/** The local S3 stand-in, for integration tests, the demo and benchmarks. */
export { decodeAwsChunked } from "./aws-chunked.js";
export { S3Error } from "./errors.js";
export { type S3StandIn, type S3StandInOptions, startS3StandIn } from "./server.js";
export { compareUtf8, md5Etag, S3Store, type StoredObject } from "./store.js";
