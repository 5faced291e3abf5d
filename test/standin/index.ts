/** The local stand-in of the ECS, EC2 and STS APIs, for integration tests, the demo and benchmarks. */
export {
  type AccountFleet,
  type AddFleetOptions,
  type Caller,
  type IssuedCredentials,
  parseSigV4,
  type SigV4Scope,
} from "./accounts.js";
export { type CounterSnapshot, Counters, sumSnapshots } from "./counters.js";
export { ApiError } from "./errors.js";
export {
  type BucketName,
  DEFAULT_BUCKETS,
  type FaultKind,
  type FaultRule,
  Faults,
  type LatencySpec,
} from "./faults.js";
export { Fleet } from "./fleet.js";
export {
  type GeneratedFleet,
  type GenerateMetadataOptions,
  type GenerateOptions,
  generateFleet,
} from "./generate.js";
export type {
  AddHostOptions,
  Addressing,
  ClusterOptions,
  ClusterRecord,
  ContainerDefinitionInput,
  ContainerRecord,
  CreateServiceOptions,
  DesiredStatus,
  Ec2InstanceRecord,
  EniRecord,
  FleetOptions,
  HealthCheckInput,
  HealthStatus,
  HostRecord,
  LaunchType,
  NetworkMode,
  PortMappingInput,
  RunTaskOptions,
  SchedulingStrategy,
  ServiceRecord,
  ServiceStatus,
  Tags,
  TaskDefinitionInput,
  TaskDefinitionRecord,
  TaskRecord,
  TaskStatus,
} from "./model.js";
export type { TaskStateChangeEvent } from "./render.js";
export { type StandIn, type StandInOptions, startStandIn } from "./server.js";
export {
  READER_ROLE_NAME,
  type RoleOptions,
  readerRoleArn,
  STS_VERSION,
  Sts,
  type StsCall,
} from "./sts-protocol.js";
export type { BucketSpec } from "./token-bucket.js";
