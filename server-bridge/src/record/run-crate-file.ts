// Writes a run's Process Run Crate into its output folder (each batch's own folder for a
// batch RED): ro-crate-metadata.json and run-record/ (the RED with secrets as
// {{variables}}, its CWL tool, the logs). Used by `redlab run` and the bridge alike.
// The output folder holds what the run produced: it is opened once and written below
// only through descriptors, never through a link found there.
import { mkdir, readFile, stat } from 'fs/promises';
import { createHash } from 'crypto';
import * as path from 'path';
import { randomUUID } from 'crypto';
import {
  buildRunCrate,
  cliToCwl,
  CRATE_FILES,
  CRATE_METADATA_FILE,
  RUN_RECORD_DIR,
  runCrateProblems,
  splitBatches,
  templateSecrets,
  toSortedYaml,
  type BatchResult,
  type CrateAgent,
  type CrateMachine,
  type Red,
  type RunResult,
  type SecretMasker,
  type FileRecord
} from '../../../src/red';
import { SafeDir, withDir } from '../util/safe-fs';

export interface RunCrateRequest {
  /** The RED as written (before its {{variables}} were filled). */
  red: Red;
  result: RunResult;
  /** The run's outdir (batch N: `${outdir}_N`, as the engine wrote it). */
  outdir: string;
  /** When the run began and ended (epoch ms): the times of a batch that has none of its own. */
  startedAt: number;
  endedAt: number;
  redSource?: string;
  engineVersion?: string;
  machine?: CrateMachine;
  agent: CrateAgent;
  license?: string;
  /** Each batch's logs, masked already (batch index → stream → text). */
  logs?: Map<number, { stdout?: string; stderr?: string }>;
  /** Every text written goes through it (the crate's JSON too). */
  masker: SecretMasker;
  name?: string;
  description?: string;
}

export interface WrittenCrate {
  batch: number;
  dir: string;
  /** RED Lab's own checks of what it wrote (empty: whole); the run is not failed for them. */
  problems: string[];
}

/** Writes one crate per batch (one for a single RED); a batch whose crate could not be written is skipped and said in `problems`. */
export async function writeRunCrates(req: RunCrateRequest): Promise<WrittenCrate[]> {
  const recordRed = templateSecrets(req.red);
  const isBatchRed = 'batches' in recordRed && Array.isArray(recordRed.batches);
  const singles = isBatchRed ? splitBatches(recordRed) : [recordRed];
  const batches: BatchResult[] = req.result.batches.length
    ? req.result.batches
    : // Failed before any batch was planned (no image, no engine): one record of that, in the outdir.
      [{ index: 0, state: req.result.state, command: req.result.command ?? [], inputs: {}, outputs: {}, timings: req.result.timings, error: req.result.error, outdir: req.outdir }];
  const written: WrittenCrate[] = [];
  for (const b of batches) {
    const dir = b.outdir || (isBatchRed ? `${req.outdir}_${b.index}` : req.outdir);
    try {
      const red = singles[Math.min(b.index, singles.length - 1)];
      const logs = req.logs?.get(b.index);
      let notebook = await notebookAsRun(red, b, req.redSource);
      // A notebook that holds one of the run's secrets is not copied (masking it would change what ran): its hash and place say what it was.
      if (notebook && req.masker.mask(notebook.bytes.toString('utf8')) !== notebook.bytes.toString('utf8')) notebook = undefined;
      const cwlText = req.masker.mask(cliToCwl(red));
      const crate = buildRunCrate({
        red,
        run: { state: b.state, command: b.command, exitCode: b.exitCode, ...(b.job ? { job: b.job } : {}), error: b.error ?? (batches.length === 1 ? req.result.error : undefined), inputs: b.inputs, outputs: b.outputs },
        image: req.result.image,
        engine: { name: req.result.engine?.name ?? 'docker', version: req.engineVersion, isolated: req.result.engine?.isolated ?? true },
        outdir: dir,
        startedAt: b.startedAt ?? req.startedAt,
        endedAt: b.endedAt ?? req.endedAt,
        redSource: req.redSource,
        ...(isBatchRed ? { batch: { index: b.index, count: batches.length } } : {}),
        agent: req.agent,
        machine: req.machine,
        license: req.license,
        logs: { stdout: logs?.stdout !== undefined, stderr: logs?.stderr !== undefined },
        ...(notebook ? { notebookCopy: { key: notebook.key, sha256: notebook.sha256, size: notebook.bytes.length } } : {}),
        name: req.name,
        description: req.description
      }, cwlText);
      const masked = req.masker.maskValue(crate);
      const expected = Object.values(b.outputs)
        .filter(o => o && !o.connector && o.path.startsWith(dir + '/'))
        .map(o => o!.path.slice(dir.length + 1));
      const files: [string, string][] = [
        [CRATE_FILES.red, req.masker.mask(toSortedYaml(red))],
        [CRATE_FILES.cli, cwlText],
        ...(logs?.stdout !== undefined ? [[CRATE_FILES.stdout, logs.stdout] as [string, string]] : []),
        ...(logs?.stderr !== undefined ? [[CRATE_FILES.stderr, logs.stderr] as [string, string]] : [])
      ];
      const clash = expected.find(p => p === CRATE_METADATA_FILE || p === RUN_RECORD_DIR || p.startsWith(RUN_RECORD_DIR + '/'));
      if (clash) {
        written.push({ batch: b.index, dir, problems: [`the output ${clash} takes the name of the run record's own file; no record was written (rename the output)`] });
        continue;
      }
      // A run refused before its command started leaves no outdir behind (nothing ran): its
      // record goes only into an outdir that is there already.
      const started = b.timings.running !== undefined || b.exitCode !== undefined;
      if (!started && !(await isDir(dir))) continue;
      await mkdir(dir, { recursive: true });
      await withDir(SafeDir.open(dir, 'the outdir'), async out => {
        await withDir(out.openDir(RUN_RECORD_DIR, { create: true }), async rec => {
          for (const [rel, text] of files) await replaceFile(rec, rel.slice(RUN_RECORD_DIR.length + 1), text);
          if (notebook) await replaceFile(rec, CRATE_FILES.notebook.slice(RUN_RECORD_DIR.length + 1), notebook.bytes);
        });
        await replaceFile(out, CRATE_METADATA_FILE, JSON.stringify(masked, null, 2) + '\n');
      });
      written.push({ batch: b.index, dir, problems: runCrateProblems(masked, expected) });
    } catch (err) {
      written.push({ batch: b.index, dir, problems: [`the run record could not be written in ${dir}: ${(err as Error).message}`] });
    }
  }
  return written;
}

/** Writes `name` in `dir` whole or not at all: a new file beside it, then renamed over it (a link there is replaced, never followed). */
async function replaceFile(dir: SafeDir, name: string, text: string | Buffer): Promise<void> {
  const tmp = `.redlab-${randomUUID().slice(0, 8)}-${name}`;
  const h = await dir.createFile(tmp, 0o644);
  try {
    await h.writeFile(text);
  } finally {
    await h.close();
  }
  await dir.rename(tmp, dir, name);
}

async function isDir(p: string): Promise<boolean> {
  return stat(p).then(
    st => st.isDirectory(),
    () => false
  );
}

/**
 * A notebook run's notebook as it was run: the local `.ipynb` File input (the panel's
 * content-addressed snapshot), read again and kept only when its bytes are still those
 * the run hashed. Undefined for other runs, or when it changed or is gone.
 */
async function notebookAsRun(red: Red, b: BatchResult, redSource: string | undefined): Promise<{ key: string; sha256: string; bytes: Buffer } | undefined> {
  const inputs = ('inputs' in red ? red.inputs : {}) as Record<string, unknown>;
  for (const [key, v] of Object.entries(inputs ?? {})) {
    const value = v as { class?: string; connector?: { command?: string; access?: { path?: unknown } } };
    const p = value?.connector?.access?.path;
    if (value?.class !== 'File' || value.connector?.command !== 'redlab-connector-local' || typeof p !== 'string' || !p.endsWith('.ipynb')) continue;
    const rec = b.inputs[key] as FileRecord | undefined;
    if (!rec?.sha256 || Array.isArray(rec)) continue;
    const abs = path.resolve(redSource ? path.dirname(redSource) : '/', p);
    const bytes = await readFile(abs).catch(() => undefined);
    if (!bytes || createHash('sha256').update(bytes).digest('hex') !== rec.sha256) continue;
    return { key, sha256: rec.sha256, bytes };
  }
  return undefined;
}
