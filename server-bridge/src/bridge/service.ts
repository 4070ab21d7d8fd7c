// What the HTTP/WebSocket layer needs from the bridge's core. The RunManager
// implements it; reads go straight to the RunStore. Engines are reached by name
// through the registry only (engine/types.ts), never a backend's client.
import type { RunState, HealthInfo, SubmitRequest, SessionCreateRequest, SessionInfo, ExecuteRequest, ExecuteResponse, ExecutionRecord, SessionEventMessage } from '../../../src/red';
import type { RunStore } from '../store';
import type { EngineRegistry } from '../engine/registry';

/** What POST /runs takes (the wire type, shared with the frontend; options.engine: a name GET /health lists, else the default). */
export type SubmitInput = SubmitRequest;

/** A request the bridge refuses: the HTTP layer answers with `status` and `message` (and `issues` for 422). */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: { issues?: unknown[]; fix?: string }
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

export type { HealthInfo } from '../../../src/red';

export interface RunService {
  readonly store: RunStore;
  /** The engines runs and image routes go to, by name. */
  readonly engines: EngineRegistry;
  /** Validates (RedError → 422), stores the masked RED, queues the run. */
  submit(input: SubmitInput): Promise<{ id: string; state: RunState }>;
  /** Cancels a queued or running run; a finished run is left as it is. Undefined when unknown. */
  cancel(id: string): Promise<{ id: string; state: RunState } | undefined>;
  health(): Promise<HealthInfo>;
  /** Container sessions (the /sessions routes); absent: the routes answer 404. */
  readonly sessions?: SessionService;
}

/**
 * What the /sessions routes need (issue 10). Refusals throw RequestError: 404 unknown
 * session or execution, 409 a dead/stopped session or GPUs the engine cannot give,
 * 422 a bad field (naming it and the fix), 403 a notebook folder outside the allowed roots.
 */
export interface SessionService {
  /** A live session of the same notebook and profile is returned as it is (created: false). */
  create(req: SessionCreateRequest): Promise<{ session: SessionInfo; created: boolean }>;
  list(): SessionInfo[];
  get(id: string): SessionInfo | undefined;
  /** Stops and removes the container; undefined when unknown. */
  stop(id: string): Promise<SessionInfo | undefined>;
  /** Queues one cell; it runs after those before it. */
  execute(id: string, req: ExecuteRequest): ExecuteResponse;
  /** The execution's record now; with `wait`, once it is final (or `signal` aborts: then as it is). */
  execution(id: string, executionId: string, opts?: { wait?: boolean; signal?: AbortSignal }): Promise<ExecutionRecord | undefined>;
  /** Interrupts the running cell (none running: nothing happens). */
  interrupt(id: string): Promise<SessionInfo>;
  /** A new container with the same profile under the same session id; the namespace is gone, queued executions are lost. */
  restart(id: string): Promise<SessionInfo>;
  /** Sends the events after `since` it still holds, then each new one, until the returned function is called; undefined when unknown. */
  subscribe(id: string, since: number, send: (m: SessionEventMessage) => void): (() => void) | undefined;
}
