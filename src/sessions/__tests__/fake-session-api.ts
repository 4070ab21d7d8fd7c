// The bridge's /sessions routes faked at the SessionApi boundary: the test decides each
// answer, sees each call, and drives the events WebSocket with FakeSocket.
import { BridgeError } from '../../handler';
import type { ExecuteResponse, ExecutionRecord, SessionCreateRequest, SessionInfo } from '../../red';
import type { SessionApi } from '../session-handler';

export function sessionInfo(over: Partial<SessionInfo> = {}): SessionInfo {
  return {
    id: 'S1',
    state: 'starting',
    profile: 'default',
    notebookPath: 'nb/a.ipynb',
    engine: 'docker',
    image: 'redlab/debian-python:12',
    gpus: [],
    createdAt: '2026-12-01T00:00:00Z',
    lastActivityAt: '2026-12-01T00:00:00Z',
    executionCount: 0,
    lastSeq: 0,
    ...over
  };
}

export class FakeSessionApi {
  calls: string[] = [];
  created: SessionCreateRequest[] = [];
  /** Answers of POST /sessions, in order (the last repeats); an Error is thrown. */
  createAnswers: (SessionInfo | Error)[] = [sessionInfo()];
  executeAnswers: (ExecuteResponse | Error)[] = [{ executionId: 'E1', state: 'queued' }];
  listAnswer: SessionInfo[] = [];
  getAnswer: (id: string) => SessionInfo | Error = id => sessionInfo({ id });
  records = new Map<string, ExecutionRecord>();
  private nCreate = 0;
  private nExecute = 0;

  async create(req: SessionCreateRequest): Promise<SessionInfo> {
    this.calls.push(`create ${req.profile ?? 'default'} ${req.image}`);
    this.created.push(req);
    const a = this.createAnswers[Math.min(this.nCreate++, this.createAnswers.length - 1)];
    if (a instanceof Error) throw a;
    return a;
  }
  async list(): Promise<SessionInfo[]> {
    this.calls.push('list');
    return this.listAnswer;
  }
  async get(id: string): Promise<SessionInfo> {
    this.calls.push(`get ${id}`);
    const a = this.getAnswer(id);
    if (a instanceof Error) throw a;
    return a;
  }
  async stop(id: string): Promise<SessionInfo | undefined> {
    this.calls.push(`stop ${id}`);
    return sessionInfo({ id, state: 'stopped' });
  }
  async execute(id: string, code: string, cellId?: string): Promise<ExecuteResponse> {
    this.calls.push(`execute ${id} ${cellId ?? ''} ${code}`);
    const a = this.executeAnswers[Math.min(this.nExecute++, this.executeAnswers.length - 1)];
    if (a instanceof Error) throw a;
    return a;
  }
  async execution(id: string, executionId: string, wait = false): Promise<ExecutionRecord> {
    this.calls.push(`execution ${id} ${executionId}${wait ? ' wait' : ''}`);
    const r = this.records.get(executionId);
    if (!r) throw new BridgeError(404, `no execution ${executionId}`);
    return r;
  }
  async interrupt(id: string): Promise<SessionInfo> {
    this.calls.push(`interrupt ${id}`);
    return sessionInfo({ id, state: 'idle' });
  }
  async restart(id: string): Promise<SessionInfo> {
    this.calls.push(`restart ${id}`);
    return sessionInfo({ id, state: 'starting' });
  }
  eventsUrl(id: string, since: number): string {
    return `ws://bridge/api/v1/sessions/${id}/events?since=${since}`;
  }
  asApi(): SessionApi {
    return this as unknown as SessionApi;
  }
}

/** Lets pending promise callbacks run. */
export const flush = async (times = 5): Promise<void> => {
  for (let i = 0; i < times; i++) await new Promise(resolve => setImmediate(resolve));
};
