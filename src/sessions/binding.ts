// A code cell's tie to a container profile, kept in its metadata `redlab`:
// {profile, image, gpu?, sessionId?, executionId?}. A bound cell goes to its profile's
// container on the ordinary Run (Shift+Enter), and shows a badge; sending a cell to a
// container binds it, and the unbind command takes the metadata away. Run records
// (Markdown cells tagged redlab-run) keep their own `redlab` metadata ({runId, …}), which
// has no `profile`, so they are never taken for bound cells. Pure.

export const CELL_METADATA_KEY = 'redlab';

export interface CellBinding {
  /** The container profile's name (profiles.ts). */
  profile: string;
  /** The image it ran in (or will). */
  image?: string;
  /** The profile asks for GPUs. */
  gpu?: boolean;
  /** The session and the execution record of its last run in a container. */
  sessionId?: string;
  executionId?: string;
}

/** The binding in a cell's `redlab` metadata, if it has one. */
export function readBinding(meta: unknown): CellBinding | undefined {
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return undefined;
  const m = meta as Record<string, unknown>;
  if (typeof m.profile !== 'string' || !m.profile) return undefined;
  const b: CellBinding = { profile: m.profile };
  if (typeof m.image === 'string' && m.image) b.image = m.image;
  if (m.gpu === true) b.gpu = true;
  if (typeof m.sessionId === 'string' && m.sessionId) b.sessionId = m.sessionId;
  if (typeof m.executionId === 'string' && m.executionId) b.executionId = m.executionId;
  return b;
}

/** What the cell's badge says: "GPU container · image" (title: the profile and the execution record). */
export function badgeText(b: CellBinding): { text: string; title: string } {
  const kind = b.gpu ? 'GPU container' : 'container';
  const text = b.image ? `${kind} · ${b.image}` : kind;
  const lines = [`Runs in the container of profile "${b.profile}"${b.image ? ` (${b.image})` : ''}: Run (Shift+Enter) sends it there.`];
  if (b.executionId) lines.push(`Last execution: ${b.executionId}${b.sessionId ? ` in session ${b.sessionId}` : ''}`);
  return { text, title: lines.join('\n') };
}
