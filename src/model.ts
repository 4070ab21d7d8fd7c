// RedLabModel owns the frontend's shared state (bridge status, runs) and emits
// signals; views only subscribe.
import { Signal } from '@lumino/signaling';
import type { HealthInfo, RunPage, RunSummary } from './red/bridge-api';
import { BridgeClient, BridgeError } from './handler';
import type { BridgeStatus, IRedLab } from './tokens';

export class RedLabModel implements IRedLab {
  private _status: BridgeStatus = { kind: 'unknown' };
  private _runs: RunSummary[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  readonly statusChanged: Signal<IRedLab, BridgeStatus> = new Signal<IRedLab, BridgeStatus>(this);
  readonly runsChanged: Signal<IRedLab, readonly RunSummary[]> = new Signal<IRedLab, readonly RunSummary[]>(this);

  constructor(readonly client: BridgeClient) {}

  get status(): BridgeStatus {
    return this._status;
  }

  get runs(): readonly RunSummary[] {
    return this._runs;
  }

  /** Polls the bridge's health and run list every `intervalMs` (and once now). */
  start(intervalMs = 5000): void {
    this.stop();
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async refresh(): Promise<void> {
    await this.refreshHealth();
    if (this._status.kind !== 'unreachable') await this.refreshRuns();
  }

  async refreshHealth(): Promise<BridgeStatus> {
    let next: BridgeStatus;
    try {
      const health = await this.client.request<HealthInfo>('health');
      next = health.docker.reachable
        ? { kind: 'connected', health }
        : { kind: 'no-engine', health, message: health.docker.error ?? 'the bridge cannot reach a Docker engine' };
    } catch (err) {
      const status = err instanceof BridgeError ? err.status : 0;
      next = {
        kind: 'unreachable',
        message:
          status === 404 || status === 0
            ? 'The RED Lab bridge is not running. Install the Python package (pip install jupyterlab-redlab) so JupyterLab starts it, or start it with `redlab bridge` and set its URL in Settings › RED Lab.'
            : `The RED Lab bridge answered ${status}: ${(err as Error).message}`
      };
    }
    if (JSON.stringify(next) !== JSON.stringify(this._status)) {
      this._status = next;
      this.statusChanged.emit(next);
    }
    return next;
  }

  async refreshRuns(): Promise<readonly RunSummary[]> {
    try {
      const page = await this.client.request<RunPage>('runs?limit=100');
      if (JSON.stringify(page.runs) !== JSON.stringify(this._runs)) {
        this._runs = page.runs;
        this.runsChanged.emit(this._runs);
      }
    } catch {
      /* the health poll reports an unreachable bridge */
    }
    return this._runs;
  }

  dispose(): void {
    this.stop();
    Signal.clearData(this);
  }
}
