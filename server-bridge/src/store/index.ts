// The bridge's durable run store: see run-store.ts for the design (SQLite in WAL mode,
// log bytes in files, live notifications, crash consistency).
export { RunStore, isLegalRunTransition, isLegalBatchTransition } from './run-store';
export type { OpenOptions, EventListener, AnyEventListener, ReadLogOptions, LogSlice, FollowOptions, Follower } from './run-store';
export { newRunId, isRunId, runIdTime } from './ids';
export { migrate, MIGRATIONS, SCHEMA_VERSION, SchemaVersionError } from './schema';
export type { Migration } from './schema';
export * from './types';
