// The bridge's side of run records: each finished run leaves a Process Run Crate in its
// outputs folder (batch N: outputs_N), as `redlab run` does, with the logs the store kept
// (masked already). GET /runs/{id}/crate serves it.
import * as path from 'path';
import { SecretMasker, type Red, type RunResult } from '../../../src/red';
import type { RunRecord, RunStore } from '../store';
import type { Engine } from '../engine/types';
import { writeRunCrates, type WrittenCrate } from '../record/run-crate-file';
import { DEFAULT_LOG_CAP_BYTES } from '../record/log-capture';
import { crateAgent, crateLicense, machineInfo } from '../record/crate-context';

export interface BridgeRecordRequest {
  store: RunStore;
  record: RunRecord;
  result: RunResult;
  engine: Engine | undefined;
  /** The RED as submitted, before filling (a recovered run's: as stored, masked). */
  red: Red;
  /** The run's secrets (a recovered run has none left: its stored RED is masked). */
  masker?: SecretMasker;
  outdir: string;
  /** The Jupyter root the RED's path is relative to. */
  baseDir: string;
  startedAt: number;
}

export async function writeBridgeRunRecord(req: BridgeRecordRequest): Promise<WrittenCrate[]> {
  const { machine, engineVersion } = await machineInfo(req.engine);
  const redPath = typeof req.record.options.redPath === 'string' ? req.record.options.redPath : undefined;
  const batches = req.result.batches.length ? req.result.batches.map(b => b.index) : [0];
  const logs = new Map<number, { stdout: string; stderr: string }>();
  for (const i of batches) logs.set(i, { stdout: storedLog(req.store, req.record.id, i, 'stdout'), stderr: storedLog(req.store, req.record.id, i, 'stderr') });
  return writeRunCrates({
    red: req.red,
    result: req.result,
    outdir: req.outdir,
    startedAt: req.startedAt,
    endedAt: Date.now(),
    redSource: redPath ? path.resolve(req.baseDir, redPath) : undefined,
    engineVersion,
    machine,
    agent: crateAgent(process.env),
    license: crateLicense(process.env),
    logs,
    masker: req.masker ?? new SecretMasker(),
    name: redPath ? path.basename(redPath) : undefined
  });
}

/** What the store kept of a batch's stream (masked when it was written), up to the record's cap. */
function storedLog(store: RunStore, runId: string, batch: number, stream: 'stdout' | 'stderr'): string {
  try {
    const slice = store.readLog(runId, { batch, stream, maxBytes: DEFAULT_LOG_CAP_BYTES });
    const text = slice.data.toString('utf8');
    return slice.end < slice.size ? `${text}\n[redlab: the record keeps only the first ${slice.end} bytes of this stream; the bridge has all ${slice.size}]\n` : text;
  } catch {
    return '';
  }
}
