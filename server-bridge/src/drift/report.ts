// The whole drift report of a re-run against the run it reproduces, from their two crates
// (each in its run's output folder): inputs, image, engine, exit code, every output file
// and the logs. Shared by `redlab rerun` (which also checks local inputs before running)
// and the bridge's GET /runs/{id}/drift (two finished runs, compared by what they recorded).
import { CRATE_FILES, CRATE_METADATA_FILE, isIdentical, isIgnored, parseRunCrate, type DriftReport, type InputDrift, type RunCrateInput, type RunCrateSummary } from '../../../src/red';
import { compareLogs, compareOutputs, readOutputFile } from './compare-outputs';

/** `key`, or `key[i]` for the i-th of several entries of one key (a list input). */
export function inputNames(inputs: RunCrateInput[]): string[] {
  const count = new Map<string, number>();
  for (const i of inputs) count.set(i.key, (count.get(i.key) ?? 0) + 1);
  const seen = new Map<string, number>();
  return inputs.map(i => {
    const n = seen.get(i.key) ?? 0;
    seen.set(i.key, n + 1);
    return (count.get(i.key) ?? 0) > 1 ? `${i.key}[${n}]` : i.key;
  });
}

/**
 * Every input after the run: a local one as checked before it (when `local` has it), unless
 * the re-run read other data (a {{variable}} in its path filled otherwise); any other by
 * what the re-run received (its crate) against what the run received.
 */
function inputsAfterRun(before: RunCrateSummary, after: RunCrateSummary | undefined, local: readonly (InputDrift | undefined)[]): InputDrift[] {
  const names = inputNames(before.inputs);
  const afterNames = after ? inputNames(after.inputs) : [];
  return before.inputs.map((input, n) => {
    const key = names[n];
    const received = after?.inputs[afterNames.indexOf(key)];
    const checked = local[n];
    if (checked) {
      if (checked.kind !== 'identical' || !received?.sha256 || received.sha256 === input.sha256) return checked;
      return { key, kind: 'changed', sha256: { before: input.sha256, after: received.sha256 }, detail: `the re-run read other data: ${received.path ?? received.id}` };
    }
    // A remote input's URL (a local one's path); none for one whose location was a {{variable}} (the crate does not record it).
    const source = input.path ?? input.url;
    if (!input.sha256) return { key, kind: 'unchecked', detail: `${source ?? 'its source'}: the record has no sha256` };
    if (!received?.sha256) return { key, kind: 'unchecked', sha256: { before: input.sha256 }, detail: `${source ?? 'its source'}: the re-run did not record what it received` };
    if (received.sha256 === input.sha256) return { key, kind: 'identical', sha256: { before: input.sha256, after: received.sha256 } };
    const detail = input.path ? `the re-run read other data: ${received.path ?? received.id}` : source ? `${source} sends other data now` : 'the re-run received other data than the run';
    return { key, kind: 'changed', sha256: { before: input.sha256, after: received.sha256 }, detail };
  });
}

async function readLog(dir: string, rel: string | undefined): Promise<string | undefined> {
  if (!rel) return undefined;
  return readOutputFile(dir, rel).then(
    b => b.toString('utf8'),
    () => undefined
  );
}

function imageText(i: { url: string; id?: string }): string {
  return i.id && i.id !== i.url ? `${i.id} (${i.url})` : i.url;
}

function engineText(e: { name: string; version?: string }): string {
  return e.version ? `${e.name} ${e.version}` : e.name;
}

/** The crate summary in `dir` (read without following links); throws as readOutputFile (ENOENT: none) and parseRunCrate do. */
export async function readRunCrate(dir: string): Promise<RunCrateSummary> {
  return parseRunCrate(JSON.parse((await readOutputFile(dir, CRATE_METADATA_FILE)).toString('utf8')));
}

export interface DriftParts {
  /** The run's output folder (its crate's root) and the re-run's. */
  beforeDir: string;
  afterDir: string;
  /** What the re-run ran with, for when it left no crate (`redlab rerun` of a run that broke off). */
  ranWith?: { image: { url: string; id?: string }; engine?: { name: string }; exitCode?: number };
  /** Image drift known before the re-run (the recorded image is gone), in words. */
  imageDrift?: string;
  /** Local inputs as checked before the re-run, by input position; others are compared by what the two runs received. */
  inputs?: readonly (InputDrift | undefined)[];
  atol: number;
  rtol: number;
  ignore: string[];
}

/** How the re-run (`after`, its crate; undefined: it left none) differs from the run (`before`). */
export async function buildDriftReport(before: RunCrateSummary, after: RunCrateSummary | undefined, p: DriftParts): Promise<DriftReport> {
  const options = { atol: p.atol, rtol: p.rtol, ignore: p.ignore };
  const inputs = inputsAfterRun(before, after, p.inputs ?? []);

  const imageAfter = after?.image ?? { url: p.ranWith?.image.url ?? '', id: p.ranWith?.image.id };
  const sameImage = before.image.id && imageAfter.id ? before.image.id === imageAfter.id : before.image.url === imageAfter.url && !p.imageDrift;
  const image = { before: imageText(before.image), after: imageText(imageAfter), same: sameImage && !p.imageDrift, ...(p.imageDrift ? { detail: p.imageDrift } : {}) };

  const engineAfter = after?.engine ?? { name: p.ranWith?.engine?.name ?? 'docker' };
  // Another engine (docker → process) is drift; another version of the same engine is said, not counted:
  // a Docker upgrade alone does not make a run irreproducible, its outputs tell.
  const versionChanged = before.engine.version !== undefined && engineAfter.version !== undefined && before.engine.version !== engineAfter.version;
  const engine = {
    before: engineText(before.engine),
    after: engineText(engineAfter),
    same: before.engine.name === engineAfter.name,
    ...(versionChanged && before.engine.name === engineAfter.name ? { detail: `same engine, another version (${before.engine.version} → ${engineAfter.version}): not counted as drift` } : {})
  };

  const outputs = await compareOutputs({ dir: p.beforeDir, outputs: before.outputs }, { dir: p.afterDir, outputs: after?.outputs ?? [] }, options);

  const logs: DriftReport['logs'] = [];
  for (const stream of ['stdout', 'stderr'] as const) {
    const rel = CRATE_FILES[stream];
    const [a, b] = await Promise.all([readLog(p.beforeDir, before.logs[stream]), readLog(p.afterDir, after?.logs[stream])]);
    if (a === undefined && b === undefined) continue;
    // A log's path in the crate can be ignored like an output (--ignore 'run-record/stdout.txt').
    if (isIgnored(rel, options.ignore)) continue;
    logs.push({ stream, ...compareLogs(a ?? '', b ?? '', stream) });
  }

  const exitCode = { before: before.exitCode, after: after?.exitCode ?? p.ranWith?.exitCode };
  const parts: Omit<DriftReport, 'identical'> = { inputs, image, engine, exitCode, outputs, logs, options };
  return { identical: isIdentical(parts), ...parts };
}
