// Runs one notebook cell in its profile's container session and writes what it does into
// the cell's own output area as it happens: the outputs cleared at the start, each output
// added as it arrives (the cell's OutputAreaModel merges consecutive stream text as it does
// for a kernel), the prompt [*] while it runs and the runner's In [n] at the end, and the
// binding (profile, image, session, execution record) in the cell's metadata. Whatever goes
// wrong (bridge down, no GPU, the session died, an image without python3) ends as an error
// output in the cell saying what to do: the cell never falls back to the local kernel.
import { BridgeError } from '../handler';
import { isFinalExecutionState, type ExecutionState, type ExecutionRecord, type NotebookOutput, type SessionInfo } from '../red';
import type { CellBinding } from './binding';
import { createRequest, ProfileError, wantsGpu, type SessionProfile } from './profiles';
import { SessionEndedError, type ExecutionListener, type SessionsModel } from './sessions-model';

/** The cell as the executor writes it (a code cell's model in JupyterLab; a fake in tests). */
export interface CellTarget {
  /** The cell's id (nbformat 4.5), kept in the execution record. */
  readonly id: string;
  readonly code: string;
  /** The cell was deleted: nothing more is written. */
  readonly isDisposed: boolean;
  clearOutputs(): void;
  addOutput(output: NotebookOutput): void;
  setExecutionCount(count: number | null): void;
  /** The prompt's [*]. */
  setRunning(running: boolean): void;
  setBinding(binding: CellBinding): void;
}

/** How a cell's run ended: an execution state, or `failed` (it never ran: see the cell's error output). */
export interface ExecutionOutcome {
  state: ExecutionState | 'failed';
  executionId?: string;
  executionCount?: number;
  error?: string;
}

export interface CellRun {
  /** Resolves once the bridge queued the cell (true) or the run failed before (false). */
  accepted: Promise<boolean>;
  done: Promise<ExecutionOutcome>;
}

/** The name of RED Lab's own error outputs (not the cell's exceptions). */
export const REDLAB_ERROR_NAME = 'RedLabError';

/** An nbformat error output that says what went wrong and what to do. */
export function errorOutput(message: string): NotebookOutput {
  return { output_type: 'error', ename: REDLAB_ERROR_NAME, evalue: message, traceback: [`\u001b[0;31mRED Lab:\u001b[0m ${message}`] };
}

/** What the user reads when a cell could not be sent to its container. */
export function describeFailure(err: unknown, profile: SessionProfile | undefined): string {
  const notRun = 'The cell did not run (neither in a container nor on the local kernel).';
  if (err instanceof ProfileError) return `${err.message}. ${notRun}`;
  if (err instanceof SessionEndedError) return err.message;
  if (err instanceof BridgeError) {
    const issues = (err.body?.issues ?? []).map(i => `${i.path}: ${i.message}${i.fix ? ` (${i.fix})` : ''}`);
    const detail = [err.message, ...issues].join('; ');
    switch (err.status) {
      case 0:
        return `the RED Lab bridge cannot be reached (${err.message}). ${notRun} Start the bridge (JupyterLab starts it when the jupyterlab-redlab package is installed; or run \`redlab bridge\` and set its URL in Settings › RED Lab), then run the cell again.`;
      case 404:
        return `the RED Lab bridge has no container sessions (${detail}). ${notRun} Update RED Lab, or pick an engine whose capabilities include sessions (GET /health).`;
      case 409:
        return profile && wantsGpu(profile)
          ? `no GPU container: ${detail}. ${notRun} Use "Run cell in container" (no GPU), or choose an engine with GPUs for this notebook in the RED panel.`
          : `the container session was refused: ${detail}. ${notRun}`;
      default:
        return `the bridge refused the container session (${err.status}): ${detail}. ${notRun}`;
    }
  }
  return `${(err as Error)?.message ?? String(err)}. ${notRun}`;
}

export class CellExecutor {
  /** The run that owns each cell now: an older run of the same cell writes no more. */
  private readonly owners = new Map<string, object>();

  constructor(private readonly sessions: SessionsModel) {}

  /** Whether the cell has a run in a container that has not ended. */
  isRunning(cellId: string): boolean {
    return this.owners.has(cellId);
  }

  /**
   * Follows an execution this page did not start, still running in `sessionId` (the page was
   * reloaded while the cell ran): the outputs so far and [*] now, every output and In [n] once
   * it ends (read from its record, waiting). An execution that has ended is left alone: the
   * cell may have run elsewhere since. Resolves with how it ended (undefined: not followed).
   */
  async follow(cell: CellTarget, sessionId: string, executionId: string): Promise<ExecutionOutcome | undefined> {
    if (this.owners.has(cell.id)) return undefined;
    const token = {};
    const mine = () => this.owners.get(cell.id) === token && !cell.isDisposed;
    const write = (record: ExecutionRecord) => {
      cell.clearOutputs();
      for (const o of record.outputs) cell.addOutput(o);
    };
    this.owners.set(cell.id, token);
    try {
      let record = await this.sessions.api.execution(sessionId, executionId);
      if (isFinalExecutionState(record.state) || !mine()) return undefined;
      write(record);
      cell.setExecutionCount(null);
      cell.setRunning(true);
      const final = await this.finalRecord(sessionId, executionId, mine);
      if (!final) return undefined;
      record = final;
      write(record);
      cell.setExecutionCount(record.executionCount ?? null);
      cell.setRunning(false);
      return { state: record.state, executionId, executionCount: record.executionCount, error: record.error };
    } catch (err) {
      if (mine()) cell.setRunning(false);
      return { state: 'failed', executionId, error: (err as Error).message };
    } finally {
      if (this.owners.get(cell.id) === token) this.owners.delete(cell.id);
    }
  }

  /** The execution's record once final; undefined when `wanted` stops being true first. */
  private async finalRecord(sessionId: string, executionId: string, wanted: () => boolean): Promise<ExecutionRecord | undefined> {
    for (;;) {
      // ?wait=true also ends at the bridge's request timeout: asked again until it is final.
      const record = await this.sessions.api.execution(sessionId, executionId, true);
      if (!wanted()) return undefined;
      if (isFinalExecutionState(record.state)) return record;
    }
  }

  /**
   * Sends `cell` to the session of `profile` (started when the notebook has none). A profile
   * that could not be read is passed as the ProfileError: the cell shows it.
   */
  run(cell: CellTarget, profile: SessionProfile | ProfileError, notebookPath: string): CellRun {
    const token = {};
    this.owners.set(cell.id, token);
    const mine = () => this.owners.get(cell.id) === token && !cell.isDisposed;
    const release = () => {
      if (this.owners.get(cell.id) === token) this.owners.delete(cell.id);
    };
    let accept: (ok: boolean) => void = () => undefined;
    const accepted = new Promise<boolean>(resolve => (accept = resolve));

    const fail = (err: unknown): ExecutionOutcome => {
      const message = describeFailure(err, profile instanceof ProfileError ? undefined : profile);
      if (mine()) {
        cell.addOutput(errorOutput(message));
        cell.setRunning(false);
      }
      release();
      accept(false);
      return { state: 'failed', error: message };
    };

    cell.clearOutputs();
    cell.setExecutionCount(null);
    const done = (async (): Promise<ExecutionOutcome> => {
      if (profile instanceof ProfileError) return fail(profile);
      const binding: CellBinding = { profile: profile.name, image: profile.image, ...(wantsGpu(profile) ? { gpu: true } : {}) };
      cell.setBinding(binding);
      cell.setRunning(true);
      const request = createRequest(profile, notebookPath);
      let session: SessionInfo;
      let executionId = '';
      let finish: (o: ExecutionOutcome) => void = () => undefined;
      const finished = new Promise<ExecutionOutcome>(resolve => (finish = resolve));
      let resynced = false;
      const end = (state: ExecutionState, detail: { executionCount?: number; error?: string }) => {
        this.sessions.forget(session.id, executionId);
        if (mine()) {
          if (state === 'lost') {
            cell.addOutput(errorOutput(`the container session ended before this cell finished: ${detail.error ?? 'no reason given'}. Run the cell again to start a new session (its variables are gone).`));
          }
          cell.setExecutionCount(detail.executionCount ?? null);
          cell.setRunning(false);
        }
        release();
        finish({ state, executionId, executionCount: detail.executionCount, error: detail.error });
      };
      const listener: ExecutionListener = {
        started: id => {
          executionId = id;
          // Now, before its events: a quick cell may be over before execute returns.
          if (mine()) cell.setBinding({ ...binding, sessionId: session.id, executionId });
        },
        output: output => {
          // Also after the end (a thread still printing), until another run takes the cell.
          const taken = this.owners.has(cell.id) && this.owners.get(cell.id) !== token;
          if (!resynced && !taken && !cell.isDisposed) cell.addOutput(output);
        },
        state: (state, detail) => {
          if (!resynced && isFinalExecutionState(state)) end(state, detail);
        },
        resync: () => {
          if (resynced) return;
          resynced = true;
          // Some live events are gone: the record, once final, has every output.
          void this.finalRecord(session.id, executionId, () => true).then(
            record => {
              if (!record) return;
              if (mine()) {
                cell.clearOutputs();
                for (const o of record.outputs) cell.addOutput(o);
              }
              end(record.state, { executionCount: record.executionCount, error: record.error });
            },
            err => end('lost', { error: `its record could not be read (${(err as Error).message})` })
          );
        }
      };
      try {
        for (let attempt = 0; ; attempt++) {
          session = await this.sessions.open(request);
          if (!mine()) {
            release();
            accept(false);
            return { state: 'failed', error: 'run again before it started' };
          }
          cell.setBinding({ ...binding, sessionId: session.id });
          try {
            await this.sessions.execute(session.id, cell.code, cell.id, listener);
            break;
          } catch (err) {
            // The bridge no longer has the session (it restarted): one new session, once.
            if (attempt === 0 && err instanceof BridgeError && err.status === 404) continue;
            throw err;
          }
        }
      } catch (err) {
        return fail(err);
      }
      accept(true);
      return finished;
    })();
    return { accepted, done };
  }
}
