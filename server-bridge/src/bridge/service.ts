// What the HTTP/WebSocket layer needs from the bridge's core. The RunManager
// implements it; reads go straight to the RunStore. Engines are reached by name
// through the registry only (engine/types.ts), never a backend's client.
import type { RunState, HealthInfo, SubmitRequest } from '../../../src/red';
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
}
