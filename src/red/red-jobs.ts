// The jobs of a RED document as the semantic checks walk them: the top level
// inputs/outputs of a single-job file, or each entry of `batches`, with the dotted
// paths issues point at and the label messages name them by.
//
// Pure TypeScript: no DOM, no Node APIs.

import { isObj, type Obj } from './values';

export interface Job {
  /** dotted path of the job's inputs / outputs mappings */
  inputsPath: string;
  outputsPath: string;
  inputs: unknown;
  outputs: unknown;
  label: string;
}

export function jobsOf(doc: Obj, isBatch: boolean): Job[] {
  if (!isBatch) return [{ inputsPath: 'inputs', outputsPath: 'outputs', inputs: doc.inputs, outputs: doc.outputs, label: 'inputs' }];
  if (!Array.isArray(doc.batches)) return [];
  return doc.batches.map((b, i) => ({
    inputsPath: `batches.${i}.inputs`,
    outputsPath: `batches.${i}.outputs`,
    inputs: isObj(b) ? b.inputs : undefined,
    outputs: isObj(b) ? b.outputs : undefined,
    label: `batch ${i}`
  }));
}
