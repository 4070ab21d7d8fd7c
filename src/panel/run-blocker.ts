// Why Run is off, in words the panel shows beside the disabled button (and as its
// tooltip): the first thing that blocks a run. Pure.
import type { PanelIssue } from './experiment-model';
import { clusterFieldLabel } from './cluster';
import type { FieldKey } from './fields';

export interface RunBlockerInput {
  /** A launch is going (its words, e.g. "Starting the run…"). */
  launching: string | null;
  /** The bridge is up with an engine that can run. */
  connected: boolean;
  /** What the bridge status says when not connected. */
  bridgeMessage?: string;
  issues: readonly PanelIssue[];
  /** The engine the RED asks for is not there (engines.ts missingEngineMessage). */
  engineMissing?: string;
}

/** The words for the field an issue is at. */
export function fieldLabel(field: FieldKey | undefined): string {
  if (!field) return 'the RED';
  const [kind, ...rest] = field.split(':');
  const name = rest.join(':');
  switch (kind) {
    case 'image':
      return 'Image';
    case 'ramMb':
      return 'RAM';
    case 'gpus':
      return 'GPUs';
    case 'engine':
      return 'Engine';
    case 'cluster':
      return `Cluster: ${clusterFieldLabel(name)}`;
    case 'param':
      return `parameter ${name}`;
    case 'input':
      return `input ${name}`;
    case 'output':
      return `output ${name}`;
  }
  return field;
}

/** The first reason Run cannot start now; undefined: it can. */
export function runBlocker(o: RunBlockerInput): string | undefined {
  if (o.launching) return o.launching;
  const error = o.issues.find(i => i.severity === 'error');
  if (error) {
    const more = o.issues.filter(i => i.severity === 'error').length - 1;
    return `Fix ${fieldLabel(error.field)} first: ${error.message}${error.fix ? ` (${error.fix})` : ''}${more > 0 ? ` (and ${more} more problem${more === 1 ? '' : 's'} below)` : ''}`;
  }
  if (o.engineMissing) return `Not here: ${o.engineMissing}`;
  if (!o.connected) return `Runs need the RED Lab bridge and an engine that can run: ${o.bridgeMessage ?? 'not connected yet'}`;
  return undefined;
}
