// Load: 200 submissions at once to a real bridge process running 4 at a time.
// None may be lost, every one must succeed with its own output, and the bridge's
// memory must stay bounded while the queue drains.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { startBridgeProcess, waitFor, type BridgeProcess } from './helpers/bridge-process';

const SUBMISSIONS = 200;
const token = 'load-test-token-0123456789abcdef';
let dataDir: string;
let bridge: BridgeProcess;

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-load-'));
  bridge = await startBridgeProcess({ dataDir, token, parallel: 4 });
});

afterAll(async () => {
  await bridge?.kill('SIGTERM');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function echoRed(n: number): Record<string, unknown> {
  return {
    redVersion: '9',
    cli: {
      cwlVersion: 'v1.0',
      class: 'CommandLineTool',
      baseCommand: 'echo',
      inputs: { word: { type: 'string', inputBinding: { position: 0 } } },
      outputs: { said: { type: 'stdout' } },
      stdout: 'said.txt'
    },
    inputs: { word: `submission-${n}` },
    outputs: {},
    container: { engine: 'docker', settings: { image: { url: 'redlab/busybox:1' }, ram: 256 } }
  };
}

test(`${SUBMISSIONS} submissions at once with parallelism 4: none lost, memory bounded`, async () => {
  const rssBefore = bridge.rss();
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    try {
      rssPeak = Math.max(rssPeak, bridge.rss());
    } catch {
      /* process gone: the assertions below say so */
    }
  }, 100);
  try {
    const started = Date.now();
    const responses = await Promise.all(Array.from({ length: SUBMISSIONS }, (_, n) => bridge.api<{ id: string; state: string }>('POST', '/runs', { red: echoRed(n) })));
    expect(responses.map(r => r.status)).toEqual(Array(SUBMISSIONS).fill(201));
    const ids = responses.map(r => r.body.id);
    expect(new Set(ids).size).toBe(SUBMISSIONS);

    // While the queue drains, never more than 4 run at once.
    let maxRunning = 0;
    await waitFor(
      'every run to finish',
      async () => {
        const health = await bridge.api<{ runs: { running: number; queued: number } }>('GET', '/health');
        maxRunning = Math.max(maxRunning, health.body.runs.running);
        return health.body.runs.running === 0 && health.body.runs.queued === 0 ? true : undefined;
      },
      300_000,
      250
    );
    const seconds = (Date.now() - started) / 1000;
    expect(maxRunning).toBeLessThanOrEqual(4);

    let cursor: string | undefined;
    const seen: { id: string; state: string; error?: string }[] = [];
    do {
      const page = await bridge.api<{ runs: { id: string; state: string; error?: string }[]; nextCursor?: string }>('GET', `/runs?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.body.runs);
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.map(r => r.id).sort()).toEqual([...ids].sort());
    expect(seen.filter(r => r.state !== 'succeeded')).toEqual([]);

    // Each run has its own output, with its own word.
    for (const n of [0, 57, 123, SUBMISSIONS - 1]) {
      const res = await fetch(`${bridge.url}/api/v1/runs/${ids[n]}/outputs/said`, { headers: { Authorization: `Bearer ${token}` } });
      expect(await res.text()).toBe(`submission-${n}\n`);
    }
    const mb = (b: number) => Math.round(b / 1024 / 1024);
    // Bounded: the queue holds small records, logs live in files, not in memory.
    expect(rssPeak - rssBefore).toBeLessThan(250 * 1024 * 1024);
    console.log(`load: ${SUBMISSIONS} runs in ${seconds.toFixed(1)} s (max ${maxRunning} at once); bridge RSS ${mb(rssBefore)} MB before, peak ${mb(rssPeak)} MB`);
  } finally {
    clearInterval(sampler);
  }
}, 400_000);
