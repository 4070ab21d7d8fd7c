// The run history of one notebook, as the panel lists it. Pure.
import { isFinalState, type RunSummary, type GpuRequirement } from '../red';
import { NOTEBOOK_INPUT, RUNNER_INPUT } from '../notebook/infer';

/** Runs started from `notebookPath`, newest first. */
export function runsOfNotebook(runs: readonly RunSummary[], notebookPath: string): RunSummary[] {
  return runs.filter(r => r.options?.notebookPath === notebookPath).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** How long a run took (or has taken so far). */
export function runDurationMs(r: RunSummary, now = Date.now()): number | undefined {
  const start = Date.parse(r.createdAt);
  const end = r.finishedAt ? Date.parse(r.finishedAt) : isFinalState(r.state) ? Date.parse(r.updatedAt) : now;
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, end - start) : undefined;
}

export function isRunning(r: RunSummary): boolean {
  return !isFinalState(r.state);
}

/** The latest run of the notebook that is not over. */
export function latestRunning(runs: readonly RunSummary[], notebookPath: string): RunSummary | undefined {
  return runsOfNotebook(runs, notebookPath).find(isRunning);
}

export function gpuLabel(g: GpuRequirement | undefined): string | undefined {
  if (!g) return undefined;
  if (g.devices?.length) return `${g.devices.length} GPU ≥ ${g.devices[0].vramMin} MB`;
  return g.count ? `${g.count} GPU` : undefined;
}

/**
 * The values a run's RED gave its plain inputs (`samples=400 · seed=7`), as the history shows
 * them: notebook parameters by their name (the `--name` they are passed as), RED Lab's own
 * bookkeeping inputs left out; File and Directory inputs by their basename.
 */
/** RED Lab's own bookkeeping inputs of a notebook RED (redlab_booleans, redlab_types, …). */
const OWN_INPUT_PREFIX = 'redlab_';

export function runValues(red: unknown): string | undefined {
  const r = red as { cli?: { inputs?: Record<string, { inputBinding?: { prefix?: unknown } }> }; inputs?: Record<string, unknown>; batches?: unknown[] } | undefined;
  if (!r?.inputs || !r.cli?.inputs) return r?.batches ? `${r.batches.length} batches` : undefined;
  const parts: string[] = [];
  for (const [key, value] of Object.entries(r.inputs)) {
    if (key === RUNNER_INPUT || key === NOTEBOOK_INPUT || key.startsWith(OWN_INPUT_PREFIX) || value === null || value === undefined) continue;
    const prefix = r.cli.inputs[key]?.inputBinding?.prefix;
    const name = typeof prefix === 'string' && /^--[A-Za-z_][A-Za-z0-9_]*$/.test(prefix) ? prefix.slice(2) : key;
    if (typeof value === 'object' && !Array.isArray(value)) {
      const basename = (value as { basename?: unknown }).basename;
      if (typeof basename === 'string') parts.push(`${name}=${basename}`);
      continue;
    }
    parts.push(`${name}=${Array.isArray(value) ? value.map(String).join(',') : String(value)}`);
  }
  return parts.length ? parts.join(' · ') : undefined;
}
