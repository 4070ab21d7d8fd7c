// Comparing run outputs across engines and runs: the run record (ro-crate-metadata.json and
// run-record/) differs by nature (times, engine, machine) and is checked by its own tests.
import { CRATE_METADATA_FILE, RUN_RECORD_DIR } from '../../../src/red';

/** Whether `rel` (a path relative to an outdir) is part of the run record. */
export function isRunRecordPath(rel: string): boolean {
  return rel === CRATE_METADATA_FILE || rel === RUN_RECORD_DIR || rel.startsWith(RUN_RECORD_DIR + '/');
}

/** A tree listing (relative path → anything) without the run record. */
export function withoutRunRecord<T>(tree: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(tree).filter(([rel]) => !isRunRecordPath(rel)));
}
