// The state changes the run store accepts. The lifecycle itself (the states, the legal
// steps, which states are final) is src/red/run.ts's, shared with the run manager and
// the frontend; this names the store's two rules, refuses a step they forbid with
// IllegalTransitionError, and says how a batch's result moves its batch.
import { isForwardTransition, isLegalRunTransition, type BatchResult, type RunState } from '../../../src/red';
import { ALL_STATES, IllegalTransitionError, isFinalState, type BatchPatch, type StoredEvent } from './types';

// A run goes one step at a time; a batch may skip forward (an engine need not report every phase).
export { isLegalRunTransition };
export const isLegalBatchTransition = isForwardTransition;

export function checkState(state: string): asserts state is RunState {
  if (!ALL_STATES.includes(state as RunState)) throw new TypeError(`unknown run state ${state}`);
}

export function assertRunTransition(runId: string, from: RunState, to: RunState): void {
  if (!isLegalRunTransition(from, to)) throw new IllegalTransitionError(from, to, `run ${runId}`);
}

export function assertBatchTransition(runId: string, index: number, from: RunState, to: RunState): void {
  if (!isLegalBatchTransition(from, to)) throw new IllegalTransitionError(from, to, `run ${runId} batch ${index}`);
}

/** The event that ends a run: the run's own (not a batch's) move to a final state. */
export function isRunFinalEvent(e: StoredEvent): boolean {
  return e.event.type === 'state' && (e.event as { batch?: number }).batch === undefined && isFinalState((e.event as { state: RunState }).state);
}

/**
 * What a batch's result writes into its batch record; a batch not yet in a final state
 * (`current`, undefined when it has no record yet) moves to the result's state.
 */
export function batchPatchFromResult(b: BatchResult, current: RunState | undefined): BatchPatch {
  const patch: BatchPatch = {
    command: b.command,
    timings: b.timings,
    outputs: b.outputs,
    ...(b.exitCode !== undefined ? { exitCode: b.exitCode } : {}),
    ...(b.containerId !== undefined ? { containerId: b.containerId } : {}),
    ...(b.error !== undefined ? { error: b.error } : {})
  };
  if (current === undefined || !isFinalState(current)) patch.state = b.state;
  return patch;
}
