// An imported RED's draft, fitted to the notebook it is imported into. Pure.
import type { ExperimentDraft } from '../notebook/types';
import { joinPath, relativePath } from './paths';

/**
 * The imported draft with the notebook's own parameter types, defaults and docs, and local
 * input paths made relative to the notebook's folder (the RED's were relative to its own).
 */
export function mergeImported(imported: ExperimentDraft, inferred: ExperimentDraft, redDir: string, nbDir: string): { draft: ExperimentDraft; notes: string[] } {
  const notes: string[] = [];
  const parameters = [...inferred.parameters];
  const values = { ...inferred.values };
  for (const p of imported.parameters) {
    const own = inferred.parameters.find(x => x.name === p.name);
    if (!own) {
      parameters.push(p);
      notes.push(`the RED sets "${p.name}", which the notebook's parameters cell does not define (it is injected anyway)`);
    }
    if (p.name in imported.values) values[p.name] = imported.values[p.name];
  }
  for (const p of inferred.parameters) if (!imported.parameters.some(x => x.name === p.name)) notes.push(`the RED does not set "${p.name}": the notebook's value is used`);
  const inputs = imported.inputs.map(i => {
    const path = i.access.path;
    if (redDir === nbDir || typeof path !== 'string' || path.startsWith('/') || path.includes('{{')) return i;
    return { ...i, access: { ...i.access, path: relativePath(nbDir, joinPath(redDir, path)) } };
  });
  return { draft: { ...imported, parameters, values, inputs, notebookPath: inferred.notebookPath, runnerPath: inferred.runnerPath }, notes };
}
