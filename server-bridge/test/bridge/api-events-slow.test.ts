// A slow WebSocket client must not make the bridge buffer a run's whole log: 20 MB of
// log events (half stored before the client connects, half written while it reads)
// go to a client that reads in short bursts. The bridge's send queue stays near its
// high-water mark, the process's RSS grows by far less than the data sent, and the
// client still gets every event, in order, exactly once.
import { createHash } from 'crypto';
import * as v8 from 'v8';
import * as vm from 'vm';
import { WebSocket } from 'ws';
import { TOKEN, advance, createStoredRun, startHarness, type Harness } from './helpers/api';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

let h: Harness;
const HWM = 1024 * 1024;
beforeAll(async () => {
  h = await startHarness({ logger: false, events: { highWaterMark: HWM } });
});
afterAll(async () => {
  await h.close();
});

const MB = 1024 * 1024;

test('20 MB of log events to a slow reader: bounded send queue and memory, nothing lost', async () => {
  const id = createStoredRun(h.store);
  advance(h.store, id, 'running');
  const chunk = 64 * 1024;
  const chunks = 320; // 20 MiB
  const sent = createHash('sha256');
  const line = (i: number) => {
    const head = `chunk ${String(i).padStart(5, '0')} `;
    return head + String.fromCharCode(97 + (i % 26)).repeat(chunk - head.length - 1) + '\n';
  };
  // Half before the client connects (replayed from the store) …
  for (let i = 0; i < chunks / 2; i++) {
    const l = line(i);
    sent.update(l);
    h.store.appendLog(id, 0, 'stdout', l);
  }

  gc();
  const rss0 = process.memoryUsage().rss;
  let peakRss = rss0;
  const sampler = setInterval(() => {
    // Collect garbage first, so that RSS shows what is held rather than what awaits collection.
    gc();
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 50);

  const got = createHash('sha256');
  let bytes = 0;
  let lastSeq = 0;
  let gaps = 0;
  const ws = new WebSocket(`${h.wsUrl}/api/v1/runs/${id}/events?token=${TOKEN}`);
  ws.on('message', data => {
    const m = JSON.parse(String(data)) as { seq: number; event: { type: string; data?: string } };
    if (m.seq !== lastSeq + 1) gaps++;
    lastSeq = m.seq;
    if (m.event.type === 'log') {
      got.update(m.event.data!);
      bytes += Buffer.byteLength(m.event.data!);
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  // … read slowly: after each message, stop reading the socket for 3 ms.
  ws.on('message', () => {
    ws.pause();
    setTimeout(() => ws.resume(), 3);
  });

  // … and half while it reads (live events, many more than follow() buffers).
  for (let i = chunks / 2; i < chunks; i++) {
    const l = line(i);
    sent.update(l);
    h.store.appendLog(id, 0, 'stdout', l);
    if (i % 16 === 0) await new Promise(r => setImmediate(r));
  }
  advance(h.store, id, 'succeeded');
  const t0 = Date.now();
  const code = await new Promise<number>(resolve => ws.on('close', c => resolve(c)));
  clearInterval(sampler);

  const growth = peakRss - rss0;
  const stats = h.bridge.eventStats();
  // eslint-disable-next-line no-console
  console.log(
    `slow client: ${(bytes / MB).toFixed(1)} MiB of log events in ${((Date.now() - t0) / 1000).toFixed(1)} s after the writer finished; ` +
      `peak send queue ${(stats.peakBufferedAmount / MB).toFixed(2)} MiB (high-water mark ${HWM / MB} MiB); ` +
      `RSS ${(rss0 / MB).toFixed(0)} → peak ${(peakRss / MB).toFixed(0)} MiB (+${(growth / MB).toFixed(1)} MiB)`
  );
  expect(code).toBe(1000);
  expect(gaps).toBe(0);
  expect(lastSeq).toBe(h.store.getSummary(id)!.lastSeq);
  expect(bytes).toBe(chunk * chunks);
  expect(got.digest('hex')).toBe(sent.digest('hex'));
  // The send queue never holds much more than the high-water mark plus one message.
  expect(stats.peakBufferedAmount).toBeLessThan(HWM + 2 * chunk + 1024);
  // Memory: far below the 20 MiB sent. (With the send queue unbounded, the same test
  // measured a 16 MiB queue and RSS +41 MiB; with it bounded, RSS +2.5 to +9 MiB.)
  expect(growth).toBeLessThan(16 * MB);
}, 120_000);
