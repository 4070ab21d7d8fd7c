// The lifecycle of a container session ("Run cell in container", issue 10) and of one
// execution in it, defined once: the bridge's session manager and store, and the
// frontend's session model and indicator all use these states and transitions.

/**
 * starting: the container is being created and the runner is not ready yet;
 * idle: ready, no cell running; busy: a cell runs (others may wait behind it);
 * dead: the container ended on its own (OOM, crash, killed): `error` says why, executes are refused;
 * stopped: stopped on purpose (DELETE, idle timeout). dead and stopped are final; a restart goes
 * back to starting (a new container, the same session id).
 */
export type SessionState = 'starting' | 'idle' | 'busy' | 'dead' | 'stopped';

export const SESSION_STATES: readonly SessionState[] = ['starting', 'idle', 'busy', 'dead', 'stopped'];

const SESSION_TRANSITIONS: Record<SessionState, readonly SessionState[]> = {
  starting: ['idle', 'dead', 'stopped'],
  // starting again: a restart replaces the container under the same session id.
  idle: ['busy', 'starting', 'dead', 'stopped'],
  busy: ['idle', 'starting', 'dead', 'stopped'],
  dead: [],
  stopped: []
};

export function isFinalSessionState(state: SessionState): boolean {
  return state === 'dead' || state === 'stopped';
}

/** Whether a session may go from `from` to `to` (a state to itself is no transition). */
export function canSessionTransition(from: SessionState, to: SessionState): boolean {
  return SESSION_TRANSITIONS[from].includes(to);
}

/**
 * queued: accepted, waiting for the cell before it; running: the runner said busy;
 * ok / error (the cell raised) / aborted (interrupted) as the runner's done says; aborted
 * also for a cell queued behind one that raised or was interrupted (not run, as a kernel's
 * stop_on_error), its error saying so;
 * lost: the session ended (died, stopped, restarted) before the execution finished.
 */
export type ExecutionState = 'queued' | 'running' | 'ok' | 'error' | 'aborted' | 'lost';

export const FINAL_EXECUTION_STATES: readonly ExecutionState[] = ['ok', 'error', 'aborted', 'lost'];

export function isFinalExecutionState(state: ExecutionState): boolean {
  return FINAL_EXECUTION_STATES.includes(state);
}

/**
 * Whether a session's environment variable holds a secret, by its name (API_TOKEN, AWS_SECRET_ACCESS_KEY,
 * DB_PASSWORD, …): its value is masked in every output, record and log. Other values are settings
 * (MODE=train, OMP_NUM_THREADS=4): masking them would blank every "train" a cell prints.
 */
export function isSecretEnvName(name: string): boolean {
  return /TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|PRIVATE|CREDENTIAL|API_?KEY|ACCESS_?KEY|AUTH/i.test(name);
}
