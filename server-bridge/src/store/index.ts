// The bridge's durable run store: see run-store.ts for the design (SQLite in WAL mode,
// log bytes in files, live notifications, crash consistency) and the parts it composes.
export { RunStore } from './run-store';
export type { OpenOptions } from './run-store';
export { isLegalRunTransition, isLegalBatchTransition } from './transitions';
export type { EventListener, AnyEventListener } from './event-hub';
export type { ReadLogOptions, LogSlice } from './log-files';
export type { FollowOptions, Follower } from './follow';
export { newRunId, isRunId, runIdTime } from './ids';
export { migrate, MIGRATIONS, SCHEMA_VERSION, SchemaVersionError } from './schema';
export type { Migration } from './schema';
export * from './types';
