// BridgeApi: every call the frontend makes to the bridge, typed by the wire contract
// (red/bridge-api.ts), over the one request wrapper (BridgeClient). Callers name what
// they want (submit, get, cancel …), not paths and methods.
import type { CancelResponse, DriftReport, EnvironmentBuildRequest, HealthInfo, LocalImage, LogStream, RunPage, RunRecord, SubmitRequest, SubmitResponse, RunState } from './red';
import { BridgeError, type BridgeClient } from './handler';

export interface ListRunsQuery {
  /** 1 … 1000 (the bridge's default: 50). */
  limit?: number;
  state?: readonly RunState[];
  /** A page's `nextCursor`, for the page after it. */
  cursor?: string;
}

const runPath = (id: string) => `runs/${encodeURIComponent(id)}`;
const outputPath = (id: string, name: string, batch?: number) => `${runPath(id)}/outputs/${encodeURIComponent(name)}${batch !== undefined ? `?batch=${batch}` : ''}`;
const JSON_HEADERS = { 'Content-Type': 'application/json' };

/** What a run's bundle (GET /runs/{id}/crate) is made with: all optional. */
export interface CrateZipQuery {
  /** For a run of several batches: whose crate (each batch has its own). */
  batch?: number;
  /** Local inputs go in when together under this many MiB (the bridge's default: 100; 0: none). */
  maxInputMb?: number;
  /** For the CITATION.cff and codemeta.json stubs: "Given Family", an ORCID iD, the dataset's title. */
  author?: string;
  affiliation?: string;
  orcid?: string;
  title?: string;
}

const cratePath = (id: string, query: CrateZipQuery) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return `${runPath(id)}/crate${qs ? `?${qs}` : ''}`;
};

/** How a re-run is compared with the run it reproduces (GET /runs/{id}/drift): all optional. */
export interface DriftQuery {
  /** For a run of several batches: which batch of both (each batch has its own crate). */
  batch?: number;
  /** Numbers in CSV and JSON outputs count as the same within atol + rtol × |before| (default 0). */
  atol?: number;
  rtol?: number;
  /** Globs of output paths not to compare (`*.log`, `results/stamp.txt`). */
  ignore?: readonly string[];
}

const driftPath = (id: string, against: string, query: DriftQuery) => {
  const q = new URLSearchParams({ against });
  if (query.batch !== undefined) q.set('batch', String(query.batch));
  if (query.atol !== undefined) q.set('atol', String(query.atol));
  if (query.rtol !== undefined) q.set('rtol', String(query.rtol));
  for (const g of query.ignore ?? []) q.append('ignore', g);
  return `${runPath(id)}/drift?${q.toString()}`;
};

export class BridgeApi {
  constructor(readonly client: BridgeClient) {}

  health(): Promise<HealthInfo> {
    return this.client.request<HealthInfo>('health');
  }

  submit(request: SubmitRequest): Promise<SubmitResponse> {
    return this.client.request<SubmitResponse>('runs', { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(request) });
  }

  /** The whole run record (RED, batches, history, result). */
  get(id: string): Promise<RunRecord> {
    return this.client.request<RunRecord>(runPath(id));
  }

  /** Cancels a run that is not final (the bridge answers with what it did). */
  async cancel(id: string): Promise<CancelResponse> {
    return (await this.client.request<CancelResponse | undefined>(runPath(id), { method: 'DELETE' })) ?? {};
  }

  /** Runs, newest first. */
  list(query: ListRunsQuery = {}): Promise<RunPage> {
    const q = new URLSearchParams();
    if (query.limit !== undefined) q.set('limit', String(query.limit));
    if (query.state?.length) q.set('state', query.state.join(','));
    if (query.cursor !== undefined) q.set('cursor', query.cursor);
    const qs = q.toString();
    return this.client.request<RunPage>(qs ? `runs?${qs}` : 'runs');
  }

  /** An engine's local images (absent: the default engine's). */
  async images(engine?: string): Promise<LocalImage[]> {
    return (await this.client.request<{ images: LocalImage[] }>(engine ? `images?engine=${encodeURIComponent(engine)}` : 'images')).images;
  }

  /**
   * Starts an image build; the answer streams NDJSON lines (ImageBuildLine), so it is the raw
   * response (image-build.ts reads it). An error status is for the caller to read.
   */
  buildImage(request: EnvironmentBuildRequest, signal?: AbortSignal): Promise<Response> {
    return this.client.fetch('images/build', { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(request), signal });
  }

  /** Link to a run's log stream, for the browser to open. */
  logUrl(id: string, stream: LogStream): string {
    return this.client.url(`${runPath(id)}/logs?stream=${stream}`);
  }

  /** Link to an output file (of batch `batch` in a batch run). */
  outputUrl(id: string, name: string, batch?: number): string {
    return this.client.url(outputPath(id, name, batch));
  }

  /**
   * Link to a finished run's shareable bundle (a zip: its Process Run Crate with outputs,
   * small local inputs, CITATION.cff and codemeta.json stubs), for the browser to open
   * through Jupyter's proxy; a bridge called directly needs its token: use crateZip().
   */
  crateUrl(id: string, query: CrateZipQuery = {}): string {
    return this.client.url(cratePath(id, query));
  }

  /** A finished run's shareable bundle as a Blob (named by `fileName`); a BridgeError saying why when there is none (404: not finished). */
  async crateZip(id: string, query: CrateZipQuery = {}): Promise<{ blob: Blob; fileName: string }> {
    const res = await this.client.fetch(cratePath(id, query));
    if (!res.ok) {
      const text = await res.text();
      let body: { error?: string } | undefined;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      throw new BridgeError(res.status, body?.error ?? (text || `${res.status} ${res.statusText}`), body);
    }
    const name = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') ?? '')?.[1];
    return { blob: await res.blob(), fileName: name ?? `redlab-run-${id}.zip` };
  }

  /**
   * How the finished run `id` (a re-run) differs from the finished run `against` (the run it
   * reproduces), from their crates: inputs, image, engine, every output, the logs. A
   * BridgeError saying why when either is unknown (404), not finished (409) or has no crate (404).
   */
  runDrift(id: string, against: string, query: DriftQuery = {}): Promise<DriftReport> {
    return this.client.request<DriftReport>(driftPath(id, against, query));
  }

  /** Link to the run record (JSON). */
  recordUrl(id: string): string {
    return this.client.url(runPath(id));
  }

  /** An output file's raw response (previews; `Range` in `init` for a head). */
  output(id: string, name: string, batch?: number, init: RequestInit = {}): Promise<Response> {
    return this.client.fetch(outputPath(id, name, batch), init);
  }

  /** WebSocket URL of a run's events after `since` (StoredEvent messages). */
  runEventsUrl(id: string, since: number): string {
    return this.client.wsUrl(`${runPath(id)}/events?since=${since}`);
  }

  /** WebSocket URL of every run's summary changes (RunChangedMessage). */
  runsEventsUrl(): string {
    return this.client.wsUrl('runs/events');
  }
}
