// A batch's states as the store records them, on the real RunManager and DockerEngine:
// GET /runs/{id} shows each batch from the start (queued), a batch whose container runs
// as `running`, and each batch's history goes queued → preparing → running →
// collecting → succeeded. (The engine says `preparing` and `running` before the
// container exists: the store used to drop both and show batches `queued` while they ran.)
import { createDockerClient } from '../../src/engine/docker-client';
import type { RunRecord } from '../../src/store';
import { BUSYBOX } from '../helpers/red';
import { call, startRunManagerApp, type RunManagerApp } from './helpers/api';
import { waitFor } from './helpers/bridge-process';

jest.setTimeout(60_000);

let app: RunManagerApp;
let url: string;
const docker = createDockerClient({});

beforeAll(async () => {
  app = await startRunManagerApp('redlab-batch-states-', docker);
  ({ url } = app);
});
afterAll(() => app.close());

// Batch 0 prints, then waits until /cc/outputs/go exists (the test makes it with docker exec); batch 1 runs after it (parallel 1).
const RED = {
  redVersion: '9',
  cli: {
    cwlVersion: 'v1.0',
    class: 'CommandLineTool',
    baseCommand: ['sh', '-c'],
    inputs: { script: { type: 'string', inputBinding: { position: 0 } } },
    outputs: {}
  },
  batches: [
    { inputs: { script: 'echo started; for i in $(seq 300); do [ -e /cc/outputs/go ] && exit 0; sleep 0.1; done; exit 9' }, outputs: {} },
    { inputs: { script: 'echo second' }, outputs: {} }
  ],
  container: { engine: 'docker', settings: { image: { url: BUSYBOX }, ram: 256 } }
};

async function getRun(id: string): Promise<RunRecord> {
  const r = await call(url, 'GET', `/api/v1/runs/${id}`);
  expect(r.status).toBe(200);
  return r.json as RunRecord;
}

/** The run's record once it has ended. */
const ended = (id: string) =>
  waitFor(
    'the run to end',
    async () => {
      const run = await getRun(id);
      return ['succeeded', 'failed', 'cancelled'].includes(run.state) ? run : undefined;
    },
    30_000,
    50
  );

test('GET /runs/{id} shows a running batch as running, the next one queued, and each batch moves through every state', async () => {
  const sub = await call(url, 'POST', '/api/v1/runs', { body: JSON.stringify({ red: RED, options: { parallel: 1 } }), headers: { 'content-type': 'application/json' } });
  expect(sub.status).toBe(201);
  const id = sub.json.id as string;

  // Once batch 0's container has printed, its `running` state must be in the record.
  const seen = await waitFor(
    'batch 0 to print',
    async () => {
      const run = await getRun(id);
      return run.batches.find(b => b.index === 0)?.logBytes.stdout ? run : undefined;
    },
    30_000,
    50
  );
  expect(seen.state).toBe('running');
  expect(seen.batches.map(b => [b.index, b.state])).toEqual([
    [0, 'running'],
    [1, 'queued']
  ]);
  // Batch 0 may end now.
  const containerId = seen.batches[0].containerId!;
  const exec = await docker.getContainer(containerId).exec({ Cmd: ['touch', '/cc/outputs/go'] });
  await exec.start({ Detach: true });

  const done = await ended(id);
  expect({ state: done.state, error: done.error }).toEqual({ state: 'succeeded', error: undefined });
  for (const index of [0, 1]) {
    expect(done.history.filter(h => h.batch === index).map(h => h.state)).toEqual(['preparing', 'running', 'collecting', 'succeeded']);
  }
});

test('batches a run never got to (its image could not be pulled) are listed from the start and end failed with the run', async () => {
  // Nothing listens on port 1: the pull fails at once, before any batch starts.
  const red = { ...RED, container: { engine: 'docker', settings: { image: { url: 'localhost:1/redlab/none:1' }, ram: 256 } } };
  const sub = await call(url, 'POST', '/api/v1/runs', { body: JSON.stringify({ red }), headers: { 'content-type': 'application/json' } });
  expect(sub.status).toBe(201);
  const id = sub.json.id as string;
  const done = await ended(id);
  expect(done.state).toBe('failed');
  expect(done.error).toMatch(/localhost:1\/redlab\/none:1/);
  expect(done.batches.map(b => ({ index: b.index, state: b.state, error: b.error }))).toEqual([
    { index: 0, state: 'failed', error: done.error },
    { index: 1, state: 'failed', error: done.error }
  ]);
});
