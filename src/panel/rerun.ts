// A re-run reproduces a run: the RED it recorded (the same notebook snapshot, values and
// inputs), with the image pinned to what the run used: its repo digest
// (`name@sha256:…`) when the image came from a registry, else its image ID
// (`sha256:…`): a tag moved since, or a rebuilt image, does not change the re-run. Pure.
import type { RunRecord, RunSummary, Red } from '../red';

/**
 * The label a re-run carries with the id of the run it reproduces: the bridge keeps it in
 * the run's options (and on its container), so the history pairs the two for the drift
 * report after a reload too.
 */
export const REPRODUCES_LABEL = 'org.redlab.reproduces';

export interface RerunPlan {
  red: Red;
  /** The image reference the re-run uses instead of the recorded one; none: the run left no digest or ID. */
  pinnedImage?: string;
  /** What the user is told. */
  note: string;
  /** For the submit options: names the run it reproduces (REPRODUCES_LABEL). */
  labels: Record<string, string>;
}

/** The id of the run `run` reproduces (a re-run started by the panel), if it is one. */
export function reproducedRunOf(run: Pick<RunSummary, 'options'>): string | undefined {
  const id = run.options?.labels?.[REPRODUCES_LABEL];
  return typeof id === 'string' && id ? id : undefined;
}

/** The reference that names exactly the image a run used. */
export function pinnedImageOf(image: RunRecord['image']): string | undefined {
  if (!image) return undefined;
  if (image.digest && image.digest.includes('@')) return image.digest;
  return image.id && /^sha256:[a-f0-9]{64}$/.test(image.id) ? image.id : undefined;
}

export function planRerun(record: Pick<RunRecord, 'id' | 'red' | 'image'>): RerunPlan {
  const red = JSON.parse(JSON.stringify(record.red)) as Red;
  const recorded = red.container?.settings?.image?.url;
  const pinned = pinnedImageOf(record.image);
  const labels = { [REPRODUCES_LABEL]: record.id };
  if (!pinned) {
    return { red, labels, note: `Re-run of ${record.id} with its recorded RED; the run recorded no image digest, so ${recorded ?? 'its image'} is used as it is now` };
  }
  red.container.settings.image = { ...red.container.settings.image, url: pinned };
  const how = pinned.includes('@') ? 'digest' : 'image ID';
  return { red, labels, pinnedImage: pinned, note: `Re-run of ${record.id} with its recorded RED and its image ${recorded ?? ''} pinned by ${how}: ${pinned}` };
}
