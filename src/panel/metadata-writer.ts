// The experiment a user sets up for a notebook is part of the notebook: each edit in the
// panel is written to its metadata (`redlab.experiment`), a moment later (typing a
// number is one edit, not one per key), so that saving the notebook keeps it. Only edits
// write: opening a notebook, or inferring its parameters again, leaves it unmodified.
// Pure: the notebook is reached through `target`.
import type { ExperimentDraft } from '../notebook/types';
import { NOTEBOOK_METADATA_KEY, toStoredExperiment } from './draft-metadata';

export interface MetadataTarget {
  getMetadata(key: string): unknown;
  setMetadata(key: string, value: unknown): void;
}

export const WRITE_DELAY_MS = 400;

/** Writes the experiment into `target`'s metadata, when it differs from what is there. Returns whether it wrote. */
export function writeExperiment(target: MetadataTarget, draft: ExperimentDraft): boolean {
  const prev = target.getMetadata(NOTEBOOK_METADATA_KEY);
  const next = { ...(prev && typeof prev === 'object' ? prev : {}), experiment: toStoredExperiment(draft) };
  if (JSON.stringify(prev) === JSON.stringify(next)) return false;
  target.setMetadata(NOTEBOOK_METADATA_KEY, next);
  return true;
}

export class ExperimentMetadataWriter {
  private readonly pending = new Map<string, { timer: ReturnType<typeof setTimeout>; draft: () => ExperimentDraft }>();

  /** `find`: the open notebook at a path (undefined: closed; the edit is then not kept). */
  constructor(
    private readonly find: (path: string) => MetadataTarget | undefined,
    private readonly delayMs = WRITE_DELAY_MS
  ) {}

  /** An edit of the experiment of the notebook at `path`: written after the delay (the latest draft). */
  edited(path: string, draft: () => ExperimentDraft): void {
    const was = this.pending.get(path);
    if (was) clearTimeout(was.timer);
    this.pending.set(path, { timer: setTimeout(() => this.flush(path), this.delayMs), draft });
  }

  /** Writes a pending edit now (before a save or a run). */
  flush(path: string): void {
    const p = this.pending.get(path);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(path);
    const target = this.find(path);
    if (target) writeExperiment(target, p.draft());
  }

  /** A notebook was renamed: its pending edit follows. */
  rename(oldPath: string, newPath: string): void {
    const p = this.pending.get(oldPath);
    if (!p) return;
    this.pending.delete(oldPath);
    this.edited(newPath, p.draft);
    clearTimeout(p.timer);
  }

  dispose(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
  }
}
