// The run history of one notebook, as the panel lists it. Pure.
import { isFinalState, type RunSummary } from '../red/bridge-api';
import type { GpuRequirement } from '../red/types';

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
