// A recorded conversation with the Kubernetes API server, played by a local HTTP + WebSocket server:
// the requests a real API server 1.31 gets from the kubernetes engine for one batch, answered as it
// answers them (paths, query parameters, Status bodies, watch event lines, timestamped log lines,
// the exec channel protocol of v4/v5.channel.k8s.io), with the pod's life (init container, main,
// keeper) advanced by what the engine does (the inputs exec, the release exec, the Job delete).
// Every request is recorded (method, path, query, JSON body, Authorization) for the test to check.
import * as http from 'http';
import type { AddressInfo } from 'net';
import { Readable } from 'stream';
import * as tar from 'tar-stream';
import { WebSocketServer, type WebSocket } from 'ws';

export interface PodScenario {
  /** main's exit code; 'never': it runs until the Job is deleted (cancel). */
  exitCode: number | 'never';
  /** terminated.reason of main (e.g. OOMKilled). */
  reason?: string;
  /** Lines main writes (each ends with '\n' in the log). */
  logs: string[];
  /** The first log stream ends after this many lines while main still runs (the engine must open it again). */
  logDropAfter?: number;
  /** Files of /cc/outputs (text, or a symbolic link). */
  outputs: Record<string, string | { symlink: string }>;
  /** The captured streams the wrapper left in /redlab/streams. */
  streams?: { stdout?: string; stderr?: string };
  /** The exec sub-protocol the server picks (default v5.channel.k8s.io). */
  protocol?: 'v4.channel.k8s.io' | 'v5.channel.k8s.io';
  /** Every watch stream ends after its first event (as an API server's watch timeout ends it): the engine must list and watch again. */
  dropWatches?: boolean;
  /** The Job's pod is never created: its events say FailedCreate with this message (admission, quota). */
  failedCreate?: string;
  /** Pod lists and watches answer 403 (a service account without RBAC on pods). */
  forbidPods?: boolean;
  /** A waiting reason main gets instead of running (e.g. ErrImagePull). */
  mainWaiting?: { reason: string; message: string };
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body?: unknown;
  authorization?: string;
  websocket?: boolean;
}

interface PodState {
  name: string;
  namespace: string;
  job: string;
  labels: Record<string, string>;
  spec: Record<string, unknown>;
  init: Record<string, unknown>;
  main: Record<string, unknown>;
  keeper: Record<string, unknown>;
  phase: string;
  scenario: PodScenario;
  /** Entries the inputs exec unpacked: name → content (files) or '' (folders). */
  inputs?: Map<string, string>;
  mainEnded: boolean;
}

export interface FakeKubeApi {
  server: string;
  token: string;
  requests: RecordedRequest[];
  /** What the stage exec received, by pod name. */
  inputsOf(pod: string): Map<string, string> | undefined;
  /** Every Pod object the fake sent (lists and watch events), to check against the schema that they are what an API server sends. */
  podsSent: unknown[];
  /** Every Event object it sent. */
  eventsSent: unknown[];
  /** Names of the pods the fake made (one per Job). */
  pods(): string[];
  /** The most Jobs that existed at once. */
  maxJobs(): number;
  /** Jobs and Secrets that exist now. */
  objects(): { jobs: string[]; secrets: string[] };
  close(): Promise<void>;
}

const BASE_TIME = Date.parse('2026-12-01T10:00:00Z');
/** Two lines per millisecond, all in one second: a reconnect from that second sees them all again. */
function logLine(i: number, text: string): string {
  const ms = BASE_TIME + Math.floor(i / 2);
  return `${new Date(ms).toISOString().replace('Z', '')}${String(i % 2 ? 123456 : 0).padStart(6, '0')}Z ${text}\n`;
}

async function tarOf(files: Record<string, string | { symlink: string }>, top: string): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>(r => pack.on('end', () => r()));
  if (top) pack.entry({ name: `${top}/`, type: 'directory', mode: 0o777 });
  for (const [name, v] of Object.entries(files)) {
    const full = top ? `${top}/${name}` : name;
    if (typeof v === 'string') pack.entry({ name: full, mode: 0o644 }, v);
    else pack.entry({ name: full, type: 'symlink', linkname: v.symlink });
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

export async function startFakeKubeApi(scenario: PodScenario): Promise<FakeKubeApi> {
  const token = 'test-token-0123456789';
  const requests: RecordedRequest[] = [];
  const jobs = new Map<string, Record<string, unknown>>();
  const secrets = new Map<string, unknown>();
  const pods = new Map<string, PodState>();
  const watchers = new Set<{ selector: Record<string, string>; res: http.ServerResponse }>();
  const logWaiters = new Set<() => void>();
  let rv = 100;
  let logConnections = 0;
  let maxJobs = 0;
  const allPods: string[] = [];
  const lastInputs = new Map<string, Map<string, string>>();

  const podsSent: unknown[] = [];
  const eventsSent: unknown[] = [];
  const podObject = (p: PodState) => sent({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace: p.namespace, labels: p.labels, resourceVersion: String(rv), uid: `uid-${p.name}` },
    spec: { ...p.spec, nodeName: 'node-a' },
    status: {
      phase: p.phase,
      ...(p.phase === 'Failed' ? { reason: 'Error' } : {}),
      initContainerStatuses: [{ name: 'stage-inputs', image: 'busybox', imageID: '', ready: false, restartCount: 0, state: p.init }],
      containerStatuses: [
        { name: 'main', image: 'img', imageID: '', ready: false, restartCount: 0, state: p.main },
        { name: 'keep-outputs', image: 'busybox', imageID: '', ready: false, restartCount: 0, state: p.keeper }
      ]
    }
  });
  function sent<T>(o: T): T {
    podsSent.push(o);
    return o;
  }
  const matches = (labels: Record<string, string>, selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
  const notify = (type: string, p: PodState) => {
    rv++;
    for (const w of [...watchers]) {
      if (!matches(p.labels, w.selector)) continue;
      w.res.write(JSON.stringify({ type, object: podObject(p) }) + '\n');
      if (scenario.dropWatches) {
        watchers.delete(w);
        w.res.end();
      }
    }
    for (const l of [...logWaiters]) l();
  };
  const parseSelector = (s: string | null): Record<string, string> =>
    Object.fromEntries((s ?? '').split(',').filter(Boolean).map(kv => kv.split('=') as [string, string]));
  const status = (res: http.ServerResponse, code: number, reason: string, message: string) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }));
  };
  const json = (res: http.ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  const mainRuns = (p: PodState) => {
    p.init = { terminated: { exitCode: 0, reason: 'Completed' } };
    p.keeper = { running: { startedAt: new Date().toISOString() } };
    p.phase = 'Running';
    if (p.scenario.mainWaiting) {
      p.main = { waiting: p.scenario.mainWaiting };
      notify('MODIFIED', p);
      return;
    }
    p.main = { running: { startedAt: new Date().toISOString() } };
    notify('MODIFIED', p);
    if (p.scenario.exitCode !== 'never') {
      const code = p.scenario.exitCode;
      setTimeout(() => {
        if (!pods.has(p.name)) return;
        p.main = { terminated: { exitCode: code, reason: p.scenario.reason ?? (code === 0 ? 'Completed' : 'Error') } };
        p.mainEnded = true;
        notify('MODIFIED', p);
      }, 150);
    }
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text;
      }
      requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, body, authorization: req.headers.authorization });
      if (req.headers.authorization !== `Bearer ${token}`) return status(res, 401, 'Unauthorized', 'Unauthorized');
      route(req.method ?? '', url, body, req, res);
    });
  });

  function route(method: string, url: URL, body: unknown, req: http.IncomingMessage, res: http.ServerResponse): void {
    const p = url.pathname;
    let m: RegExpExecArray | null;
    // The client asks for /version/ (the generated path), kubectl for /version: the API server answers both.
    if (method === 'GET' && (p === '/version' || p === '/version/')) return json(res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.14', platform: 'linux/amd64' });
    if (method === 'GET' && p === '/api/v1/nodes') {
      return json(res, 200, {
        kind: 'NodeList',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(rv) },
        items: [
          { metadata: { name: 'node-a' }, status: { allocatable: { cpu: '8', memory: '32Gi', 'nvidia.com/gpu': '2' }, conditions: [{ type: 'Ready', status: 'True' }] } },
          { metadata: { name: 'node-b' }, status: { allocatable: { cpu: '8', memory: '32Gi' }, conditions: [{ type: 'Ready', status: 'False' }] } }
        ]
      });
    }
    if (method === 'GET' && p === '/api/v1/pods') {
      // Another tenant's pod on node-a holds one of its two GPUs.
      return json(res, 200, {
        kind: 'PodList',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(rv) },
        items: [{ metadata: { name: 'other', namespace: 'team-b' }, spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'x', resources: { limits: { 'nvidia.com/gpu': '1' } } }] }, status: { phase: 'Running' } }]
      });
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/.exec(p))) {
      const [, ns, name] = m;
      if (method === 'POST') {
        const n = (body as { metadata: { name: string } }).metadata.name;
        if (secrets.has(`${ns}/${n}`)) return status(res, 409, 'AlreadyExists', `secrets "${n}" already exists`);
        secrets.set(`${ns}/${n}`, body);
        return json(res, 201, body);
      }
      if (method === 'DELETE' && name) {
        if (!secrets.delete(`${ns}/${name}`)) return status(res, 404, 'NotFound', `secrets "${name}" not found`);
        return json(res, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success' });
      }
    }
    if ((m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+))?$/.exec(p))) {
      const [, ns, name] = m;
      if (method === 'POST') {
        const job = body as { metadata: { name: string }; spec: { template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> } } };
        const n = job.metadata.name;
        if (jobs.has(`${ns}/${n}`)) return status(res, 409, 'AlreadyExists', `jobs.batch "${n}" already exists`);
        jobs.set(`${ns}/${n}`, job as unknown as Record<string, unknown>);
        maxJobs = Math.max(maxJobs, jobs.size);
        json(res, 201, { ...job, metadata: { ...job.metadata, uid: `uid-${n}`, resourceVersion: String(rv) } });
        const pod: PodState = {
          name: `${n}-x7k2p`,
          namespace: ns,
          job: n,
          labels: { ...job.spec.template.metadata.labels, 'batch.kubernetes.io/job-name': n },
          spec: job.spec.template.spec,
          init: { waiting: { reason: 'PodInitializing' } },
          main: { waiting: { reason: 'PodInitializing' } },
          keeper: { waiting: { reason: 'PodInitializing' } },
          phase: 'Pending',
          scenario,
          mainEnded: false
        };
        if (scenario.failedCreate) return;
        pods.set(pod.name, pod);
        allPods.push(pod.name);
        setTimeout(() => {
          notify('ADDED', pod);
          setTimeout(() => {
            if (!pods.has(pod.name)) return;
            pod.init = { running: { startedAt: new Date().toISOString() } };
            notify('MODIFIED', pod);
          }, 30);
        }, 30);
        return;
      }
      if (method === 'DELETE' && name) {
        if (!jobs.delete(`${ns}/${name}`)) return status(res, 404, 'NotFound', `jobs.batch "${name}" not found`);
        for (const pod of [...pods.values()].filter(x => x.job === name)) {
          pods.delete(pod.name);
          notify('DELETED', pod);
        }
        return json(res, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success' });
      }
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(p)) && method === 'GET') {
      const ns = m[1];
      const name = /involvedObject.name=([^,]+)/.exec(url.searchParams.get('fieldSelector') ?? '')?.[1];
      const items =
        scenario.failedCreate && name && jobs.has(`${ns}/${name}`)
          ? [
              {
                metadata: { name: `${name}.17f1`, namespace: ns },
                involvedObject: { kind: 'Job', name, namespace: ns, apiVersion: 'batch/v1' },
                type: 'Warning',
                reason: 'FailedCreate',
                message: scenario.failedCreate,
                count: 3,
                source: { component: 'job-controller' }
              }
            ]
          : [];
      eventsSent.push(...items);
      return json(res, 200, { kind: 'EventList', apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items });
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(p)) && method === 'GET') {
      if (scenario.forbidPods) return status(res, 403, 'Forbidden', `pods is forbidden: User "system:serviceaccount:${m[1]}:default" cannot list resource "pods" in API group "" in the namespace "${m[1]}"`);
      const selector = parseSelector(url.searchParams.get('labelSelector'));
      if (url.searchParams.get('watch') === 'true') {
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        const w = { selector, res };
        watchers.add(w);
        req.socket.on('close', () => watchers.delete(w));
        return;
      }
      const items = [...pods.values()].filter(x => matches(x.labels, selector)).map(podObject);
      return json(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items });
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(p)) && method === 'GET') {
      const pod = pods.get(m[2]);
      if (!pod) return status(res, 404, 'NotFound', `pods "${m[2]}" not found`);
      const connection = ++logConnections;
      const since = url.searchParams.get('sinceTime');
      res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
      const lines = pod.scenario.logs.map((t, i) => logLine(i, t)).filter(l => !since || l.slice(0, 19) >= since.slice(0, 19));
      const drop = connection === 1 && pod.scenario.logDropAfter !== undefined;
      for (const l of drop ? lines.slice(0, pod.scenario.logDropAfter) : lines) res.write(l);
      if (drop) {
        res.end();
        return;
      }
      const finish = () => {
        if (pod.mainEnded || !pods.has(pod.name)) {
          logWaiters.delete(finish);
          res.end();
        }
      };
      logWaiters.add(finish);
      req.socket.on('close', () => logWaiters.delete(finish));
      return finish();
    }
    status(res, 404, 'NotFound', `the fake API server has no ${method} ${p}`);
  }

  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: protocols => (protocols.has(scenario.protocol ?? 'v5.channel.k8s.io') ? (scenario.protocol ?? 'v5.channel.k8s.io') : false)
  });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({ method: 'GET', path: url.pathname, query: url.searchParams, authorization: req.headers.authorization, websocket: true });
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/exec$/.exec(url.pathname);
    if (req.headers.authorization !== `Bearer ${token}` || !m) {
      socket.end('HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\n\r\n{"kind":"Status","message":"forbidden"}');
      return;
    }
    wss.handleUpgrade(req, socket, head, ws => exec(ws, m[2], url.searchParams));
  });

  function exec(ws: WebSocket, podName: string, q: URLSearchParams): void {
    const pod = pods.get(podName);
    const command = q.getAll('command');
    const container = q.get('container');
    const send = (channel: number, data: Buffer | string) => ws.send(Buffer.concat([Buffer.from([channel]), Buffer.isBuffer(data) ? data : Buffer.from(data)]));
    const done = (exitCode: number, stderr = '') => {
      if (stderr) send(2, stderr);
      send(
        3,
        JSON.stringify(
          exitCode === 0
            ? { metadata: {}, status: 'Success' }
            : { metadata: {}, status: 'Failure', message: `command terminated with non-zero exit code: ${exitCode}`, reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] } }
        )
      );
      ws.close();
    };
    if (!pod) return done(1, `pod ${podName} not found`);
    const script = command.join(' ');
    if (container === 'stage-inputs' && command[0] === 'sh' && script.includes('head -c')) {
      const bytes = Number(command[command.length - 1]);
      let received = Buffer.alloc(0);
      ws.on('message', (data: Buffer) => {
        if (data[0] !== 0) return; // close-stdin (255, 0) needs no answer
        received = Buffer.concat([received, data.subarray(1)]);
        if (received.length < bytes) return;
        const extract = tar.extract();
        const entries = new Map<string, string>();
        extract.on('entry', (h, s, next) => {
          const parts: Buffer[] = [];
          s.on('data', (c: unknown) => parts.push(c as Buffer));
          s.on('end', () => {
            entries.set(h.name, h.type === 'file' ? Buffer.concat(parts).toString('utf8') : '');
            next();
          });
        });
        extract.on('finish', () => {
          pod.inputs = entries;
          lastInputs.set(pod.name, entries);
          done(0);
          setTimeout(() => mainRuns(pod), 20);
        });
        Readable.from([received.subarray(0, bytes)]).pipe(extract);
      });
      return;
    }
    if (container === 'keep-outputs' && command[0] === 'tar') {
      const streams = command.includes('/redlab/streams');
      // As busybox tar: the files named after -C DIR, each at its name.
      const named = Object.fromEntries(Object.entries(pod.scenario.streams ?? {}).filter(([k]) => command.slice(5).includes(k)));
      void tarOf(streams ? named : pod.scenario.outputs, streams ? '' : 'outputs').then(buf => {
        for (let i = 0; i < buf.length; i += 1000) send(1, buf.subarray(i, i + 1000));
        done(0);
      });
      return;
    }
    if (container === 'keep-outputs' && command[0] === 'touch') {
      done(0);
      pod.keeper = { terminated: { exitCode: 0, reason: 'Completed' } };
      pod.phase = pod.scenario.exitCode === 0 ? 'Succeeded' : 'Failed';
      notify('MODIFIED', pod);
      return;
    }
    done(126, `the fake has no exec for ${container}: ${script}`);
  }

  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    server: `http://127.0.0.1:${port}`,
    token,
    requests,
    podsSent,
    eventsSent,
    maxJobs: () => maxJobs,
    inputsOf: name => lastInputs.get(name),
    pods: () => [...allPods],
    objects: () => ({ jobs: [...jobs.keys()], secrets: [...secrets.keys()] }),
    close: async () => {
      for (const w of watchers) w.res.end();
      for (const c of wss.clients) c.terminate();
      server.closeAllConnections();
      await new Promise(r => server.close(r));
    }
  };
}
