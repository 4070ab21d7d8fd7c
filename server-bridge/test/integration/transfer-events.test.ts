// transfer-progress run events from both engines (the real Docker engine and the process
// engine), for an input that takes a few seconds to arrive from a real HTTP server, and for
// an output sent to it: about one a second with bytes, total, rate and time left, and a
// last one when done. (The bridge stores every engine event it does not handle itself in
// the run's event stream: RunManager.onEngineEvent.)
import { randomBytes } from 'crypto';
import type { RunEvent } from '../../../src/red';
import { DockerEngine } from '../../src/engine/docker';
import { ProcessEngine } from '../../src/engine/process';
import type { Engine } from '../../src/engine/types';
import { loopbackConnectors, startTestServer, type TestServer } from '../helpers/http-server';
import { BUSYBOX, collectEvents, removeTempDirs, request, runDirs } from '../helpers/red';

jest.setTimeout(120_000);

const SIZE = 3 * 1024 * 1024;
let server: TestServer;
beforeAll(async () => {
  // 64 KiB every 40 ms: about 2 s for the file.
  server = await startTestServer({ files: { '/in.bin': randomBytes(SIZE) }, slowChunkMs: { '/in.bin': 40 } });
});
afterAll(async () => {
  await server.close();
  await removeTempDirs();
});

const red = () => `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c, 'cp "$0" /cc/outputs/copy.bin 2>/dev/null || cp "$0" copy.bin']
  inputs:
    data: { type: File, inputBinding: { position: 0 } }
  outputs:
    copy: { type: File, outputBinding: { glob: copy.bin } }
inputs:
  data:
    class: File
    connector: { command: red-connector-http, access: { url: "${server.url}/in.bin" } }
outputs:
  copy:
    class: File
    connector: { command: red-connector-http, access: { url: "${server.url}/up/copy.bin", method: PUT } }
container:
  engine: docker
  settings: { image: { url: ${BUSYBOX} }, ram: 256 }
`;

type TransferEvent = Extract<RunEvent, { type: 'transfer-progress' }>;

const engines: [string, (workRoot: string) => Engine][] = [
  ['docker', workRoot => new DockerEngine({ connectors: loopbackConnectors(), workRoot })],
  ['process', workRoot => new ProcessEngine({ connectors: loopbackConnectors(), workRoot })]
];

describe.each(engines)('the %s engine', (_name, make) => {
  it('emits transfer-progress events for the input as it arrives, and a last one for each transfer', async () => {
    const { dir, workRoot } = await runDirs('redlab-transfer-events-');
    const ev = collectEvents();
    const res = await make(workRoot).run(request(red(), dir), { onEvent: ev.onEvent });
    expect(res.error).toBeUndefined();
    expect(res.state).toBe('succeeded');
    const transfers = ev.events.filter((e): e is TransferEvent => e.type === 'transfer-progress');
    const input = transfers.filter(e => e.direction === 'input');
    const moving = input.filter(e => !e.done);
    // ~2 s at one a second: one or more while it moves, throttled (not one per chunk)
    expect(moving.length).toBeGreaterThanOrEqual(1);
    expect(moving.length).toBeLessThanOrEqual(5);
    for (const e of moving) {
      expect(e).toMatchObject({ batch: 0, name: 'data', total: SIZE });
      expect(e.bytes).toBeGreaterThan(0);
      expect(e.bytes).toBeLessThan(SIZE);
      expect(e.bytesPerSecond).toBeGreaterThan(0);
      expect(e.etaMs).toBeGreaterThan(0);
    }
    expect(input[input.length - 1]).toMatchObject({ type: 'transfer-progress', batch: 0, direction: 'input', name: 'data', bytes: SIZE, total: SIZE, done: true });
    // the output went out whole (a quick upload on loopback may make no event at all)
    expect(server.uploads.get('/up/copy.bin')?.body.length).toBe(SIZE);
  });
});
