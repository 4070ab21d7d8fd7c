// SessionApi: the calls of "Run cell in container" to the bridge's /sessions routes, typed
// by the wire contract (red/bridge-api.ts), over the one request wrapper (BridgeClient),
// so they carry the same token, proxy and errors (BridgeError) as the runs' calls.
import type { BridgeClient } from '../handler';
import type { ExecuteResponse, ExecutionRecord, SessionCreateRequest, SessionInfo } from '../red';

const JSON_HEADERS = { 'Content-Type': 'application/json' };
const sessionPath = (id: string) => `sessions/${encodeURIComponent(id)}`;

export class SessionApi {
  constructor(readonly client: BridgeClient) {}

  /** The notebook's live session of this profile (200), or a new one (201). */
  create(request: SessionCreateRequest): Promise<SessionInfo> {
    return this.client.request<SessionInfo>('sessions', { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(request) });
  }

  async list(): Promise<SessionInfo[]> {
    const body = await this.client.request<SessionInfo[] | { sessions: SessionInfo[] }>('sessions');
    return Array.isArray(body) ? body : (body?.sessions ?? []);
  }

  get(id: string): Promise<SessionInfo> {
    return this.client.request<SessionInfo>(sessionPath(id));
  }

  /** Stops the session and removes its container. */
  async stop(id: string): Promise<SessionInfo | undefined> {
    return (await this.client.request<SessionInfo | undefined>(sessionPath(id), { method: 'DELETE' })) ?? undefined;
  }

  /** Queues one cell (202): it runs after those sent before it. */
  execute(id: string, code: string, cellId?: string): Promise<ExecuteResponse> {
    return this.client.request<ExecuteResponse>(`${sessionPath(id)}/execute`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify(cellId ? { code, cellId } : { code })
    });
  }

  /** An execution's record; with `wait`, once it is final. */
  execution(id: string, executionId: string, wait = false, signal?: AbortSignal): Promise<ExecutionRecord> {
    return this.client.request<ExecutionRecord>(`${sessionPath(id)}/executions/${encodeURIComponent(executionId)}${wait ? '?wait=true' : ''}`, signal ? { signal } : {});
  }

  interrupt(id: string): Promise<SessionInfo> {
    return this.client.request<SessionInfo>(`${sessionPath(id)}/interrupt`, { method: 'POST' });
  }

  restart(id: string): Promise<SessionInfo> {
    return this.client.request<SessionInfo>(`${sessionPath(id)}/restart`, { method: 'POST' });
  }

  /** WebSocket URL of the session's events after `since` (SessionEventMessage). */
  eventsUrl(id: string, since: number): string {
    return this.client.wsUrl(`${sessionPath(id)}/events?since=${since}`);
  }
}
