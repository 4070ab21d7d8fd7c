// Slowloris against the bridge's HTTP server: sockets that trickle a request head (or
// send nothing) are closed by the server once the headers timeout passes, and at most
// maxUnauthenticatedConnections wait for their first authenticated request at once,
// while an authenticated request and an open WebSocket events stream keep working.
import * as http from 'http';
import * as net from 'net';
import { WebSocket } from 'ws';
import { createApp } from '../../src/bridge/http';
import { advance, call, createStoredRun, openWs, startHarness, TOKEN, type Harness } from './helpers/api';

const HEADERS_TIMEOUT_MS = 1500;
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

interface Slow {
  socket: net.Socket;
  /** ms after the start when the server closed it. */
  closedAfter?: number;
  received: string;
}

/** Opens `n` sockets that send the start of a request head, then one byte every `everyMs` (0: nothing more), forever. */
async function slowClients(url: string, n: number, everyMs: number, t0: number): Promise<Slow[]> {
  const { hostname, port } = new URL(url);
  const clients: Slow[] = [];
  for (let i = 0; i < n; i++) {
    // allowHalfOpen: like an attacker, it does not close its side when the server closes its own.
    const socket = net.connect({ port: Number(port), host: hostname, allowHalfOpen: true });
    const c: Slow = { socket, received: '' };
    socket.on('data', d => (c.received += d));
    socket.on('error', () => undefined);
    socket.on('close', () => (c.closedAfter ??= Date.now() - t0));
    // It ignores the server's FIN and keeps writing: only a server that closed the socket
    // for good answers with a reset, which is what 'close' here means.
    socket.on('end', () => {
      const probe = setInterval(() => (socket.destroyed ? clearInterval(probe) : socket.write('a')), 200);
      socket.on('close', () => clearInterval(probe));
    });
    await new Promise<void>(resolve => socket.once('connect', () => resolve()));
    if (everyMs > 0) {
      socket.write('GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      const timer = setInterval(() => (socket.writable ? socket.write('a') : clearInterval(timer)), everyMs);
      socket.on('close', () => clearInterval(timer));
    }
    clients.push(c);
  }
  return clients;
}

describe('headers timeout', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: 3000, keepAliveTimeoutMs: 1000 });
  });
  afterAll(async () => {
    await h.close();
  });

  test('200 trickling and 20 silent sockets are closed by the server; a request and an events stream go on', async () => {
    const id = createStoredRun(h.store);
    advance(h.store, id, 'running');
    const events = await openWs(`${h.wsUrl}/api/v1/runs/${id}/events?token=${TOKEN}`);
    await events.waitFor(3);

    const t0 = Date.now();
    const trickling = await slowClients(h.url, 200, 1000, t0);
    const silent = await slowClients(h.url, 20, 0, t0);
    const opened = Date.now() - t0;

    // While they hang on, the API answers.
    const during = await call(h.url, 'GET', '/api/v1/health');
    expect(during.status).toBe(200);

    const all = [...trickling, ...silent];
    const deadline = Date.now() + 20_000;
    while (all.some(c => c.closedAfter === undefined) && Date.now() < deadline) await sleep(100);
    const open = all.filter(c => c.closedAfter === undefined).length;
    for (const c of all) c.socket.destroy();
    expect(open).toBe(0);
    const times = all.map(c => c.closedAfter!);
    const [first, last] = [Math.min(...times), Math.max(...times)];
    process.stdout.write(`slowloris: 220 sockets opened in ${opened} ms, closed by the server after ${first}–${last} ms (headers timeout ${HEADERS_TIMEOUT_MS} ms)\n`);
    // Not before the timeout (none of them is over any cap), and well within a generous bound after it.
    expect(first).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
    expect(last).toBeLessThan(opened + HEADERS_TIMEOUT_MS + 6000);
    // They were told why.
    expect(trickling.filter(c => c.received.startsWith('HTTP/1.1 408 ')).length).toBeGreaterThan(150);

    // The events stream lived through it (longer than the headers and request timeouts) and still delivers.
    expect(events.ws.readyState).toBe(WebSocket.OPEN);
    h.store.appendLog(id, 0, 'stdout', 'still here\n');
    await events.waitFor(4);
    expect(events.messages.at(-1)!.event).toMatchObject({ type: 'log', data: 'still here\n' });
    expect((await call(h.url, 'GET', '/api/v1/health')).status).toBe(200);
    events.ws.close();
  }, 40_000);

  test('an events stream with nothing to say outlives every timeout', async () => {
    const id = createStoredRun(h.store);
    const events = await openWs(`${h.wsUrl}/api/v1/runs/${id}/events?token=${TOKEN}`);
    await events.waitFor(1);
    await sleep(3000 + HEADERS_TIMEOUT_MS + 1000);
    expect(events.ws.readyState).toBe(WebSocket.OPEN);
    advance(h.store, id, 'preparing');
    await events.waitFor(2);
    events.ws.close();
  }, 20_000);

  test('a refused request (no token) closes its connection', async () => {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get(`${h.url}/api/v1/health`, { agent: new http.Agent({ keepAlive: true }) }, resolve).on('error', reject));
    res.resume();
    expect(res.statusCode).toBe(401);
    expect(res.headers.connection).toBe('close');
  });
});

describe('unauthenticated connections cap', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ maxUnauthenticatedConnections: 20, headersTimeoutMs: 60_000 });
  });
  afterAll(async () => {
    await h.close();
  });

  test('beyond the cap a new connection closes the oldest that waited a second; authenticated requests pass', async () => {
    const t0 = Date.now();
    const idle = await slowClients(h.url, 50, 0, t0);
    await sleep(1200);
    // Only while new connections come does the cap close old ones: this one makes 51 waiting.
    const [trigger] = await slowClients(h.url, 1, 0, t0);
    const deadline = Date.now() + 5000;
    while (idle.filter(c => c.closedAfter === undefined).length > 19 && Date.now() < deadline) await sleep(50);
    const stillOpen = idle.map((c, i) => (c.closedAfter === undefined ? i : -1)).filter(i => i >= 0);
    // The 19 newest wait on with the trigger (the headers timeout is a minute); the 31 oldest made room.
    expect(stillOpen).toEqual(Array.from({ length: 19 }, (_, i) => 31 + i));
    expect(trigger.closedAfter).toBeUndefined();
    const res = await call(h.url, 'GET', '/api/v1/health');
    expect(res.status).toBe(200);
    for (const c of [...idle, trigger]) c.socket.destroy();
  }, 20_000);

  test('a burst of honest clients, five times the cap, all get through', async () => {
    const statuses = await Promise.all(Array.from({ length: 100 }, () => call(h.url, 'GET', '/api/v1/health').then(r => r.status)));
    expect(statuses.filter(s => s === 200).length).toBe(100);
  }, 20_000);
});

describe('configuration', () => {
  const service = () => ({ store: {}, docker: {} }) as never;

  test('sane defaults on the node server', () => {
    const { app } = createApp(service(), { token: TOKEN, logger: false });
    expect(app.server.headersTimeout).toBe(10_000);
    expect(app.server.requestTimeout).toBe(5 * 60_000);
    expect(app.server.keepAliveTimeout).toBe(5000);
  });

  test.each([
    ['headersTimeoutMs', 0],
    ['headersTimeoutMs', Infinity],
    ['keepAliveTimeoutMs', -1],
    ['requestTimeoutMs', 1.5],
    ['maxUnauthenticatedConnections', 0]
  ])('%s: %p is refused with its name', (key, value) => {
    expect(() => createApp(service(), { token: TOKEN, logger: false, [key]: value })).toThrow(new RegExp(`^${key} must be`));
  });

  test('headers cannot take longer than the whole request', () => {
    expect(() => createApp(service(), { token: TOKEN, logger: false, headersTimeoutMs: 20_000, requestTimeoutMs: 10_000 })).toThrow(/headersTimeoutMs must be at most requestTimeoutMs/);
  });
});
