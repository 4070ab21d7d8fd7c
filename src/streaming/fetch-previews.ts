// Downloads a run's output files for their inline previews (through the one bridge
// client, so Jupyter's or the bridge's auth applies) and turns them into Preview data.
import type { BridgeApi } from '../api';
import { PREVIEW_MAX_BYTES, pngPreview, previewFromText, previewTypeOf } from './previews';
import type { ArtifactView, Preview } from './types';

/** A preview for the artifact, or undefined when its type gets none. Never throws. */
export async function fetchPreview(api: BridgeApi, runId: string, a: ArtifactView, enabled: readonly string[], fileName?: string): Promise<Preview | undefined> {
  if (a.class !== 'File') return undefined;
  const type = previewTypeOf(fileName ?? a.name, enabled);
  if (!type) return undefined;
  if (a.size > PREVIEW_MAX_BYTES[type]) return { kind: 'none', reason: 'too large to preview' };
  try {
    const init: RequestInit = type === 'csv' ? { headers: { Range: 'bytes=0-65535' } } : {};
    const res = await api.output(runId, a.name, a.batch, init);
    if (!res.ok) return { kind: 'none', reason: `${res.status} ${res.statusText}` };
    if (type === 'png') return pngPreview(new Uint8Array(await res.arrayBuffer()));
    return previewFromText(type, await res.text());
  } catch (err) {
    return { kind: 'none', reason: (err as Error).message };
  }
}
