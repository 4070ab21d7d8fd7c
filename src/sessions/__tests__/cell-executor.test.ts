// CellExecutor with the real SessionsModel, the bridge faked at the SessionApi boundary and
// its events socket with FakeSocket; the cell is a recorder of what JupyterLab's cell model
// is told (clear, add, execution count, [*], metadata).
import { BridgeError } from '../../handler';
import type { ExecutionRecord, NotebookOutput } from '../../red';
import { FakeSocket } from '../../streaming/__tests__/fake-socket';
import type { CellBinding } from '../binding';
import { CellExecutor, REDLAB_ERROR_NAME, type CellTarget } from '../cell-executor';
import { ProfileError, resolveProfile } from '../profiles';
import { SessionsModel } from '../sessions-model';
import { FakeSessionApi, flush, sessionInfo } from './fake-session-api';

class FakeCell implements CellTarget {
  log: string[] = [];
  outputs: NotebookOutput[] = [];
  binding: CellBinding | undefined;
  count: number | null = 5;
  running = false;
  isDisposed = false;
  constructor(
    readonly id = 'cell-1',
    readonly code = 'print(1)'
  ) {}
  clearOutputs() {
    this.outputs = [];
    this.log.push('clear');
  }
  addOutput(o: NotebookOutput) {
    this.outputs.push(o);
    this.log.push(`add ${o.output_type}${o.text !== undefined ? ` ${String(o.text)}` : ''}`);
  }
  setExecutionCount(n: number | null) {
    this.count = n;
    this.log.push(`count ${n}`);
  }
  setRunning(r: boolean) {
    this.running = r;
    this.log.push(r ? '[*]' : 'idle');
  }
  setBinding(b: CellBinding) {
    this.binding = b;
  }
  errorText(): string {
    return this.outputs
      .filter(o => o.output_type === 'error' && o.ename === REDLAB_ERROR_NAME)
      .map(o => String(o.evalue))
      .join('\n');
  }
}

const DEFAULTS = { image: 'redlab/debian-python:12', ramMb: 1024 };
const out = (seq: number, executionId: string, text: string) => ({ seq, type: 'output', executionId, output: { output_type: 'stream', name: 'stdout', text } });

let api: FakeSessionApi;
let model: SessionsModel;
let executor: CellExecutor;
beforeEach(() => {
  FakeSocket.all = [];
  api = new FakeSessionApi();
  model = new SessionsModel({ api: api.asApi(), socket: FakeSocket.factory, retryMs: [0] });
  executor = new CellExecutor(model);
});
afterEach(() => model.dispose());

test('outputs go into the cell as they arrive; In [n] and the binding (profile, image, session, execution) at the end', async () => {
  const cell = new FakeCell();
  const run = executor.run(cell, resolveProfile('default', DEFAULTS, undefined), 'nb/a.ipynb');
  expect(cell.log).toEqual(['clear', 'count null', '[*]']);
  expect(await run.accepted).toBe(true);
  expect(api.calls).toEqual(['create default redlab/debian-python:12', 'execute S1 cell-1 print(1)']);
  expect(api.created[0]).toEqual({ image: 'redlab/debian-python:12', notebookPath: 'nb/a.ipynb', profile: 'default', ram: 1024 });
  const sock = FakeSocket.all[0];
  sock.open();
  sock.receive({ seq: 1, type: 'execution', executionId: 'E1', state: 'running' }, out(2, 'E1', 'a\n'));
  // Live: the first line is in the cell before the execution ends.
  expect(cell.log).toEqual(['clear', 'count null', '[*]', 'add stream a\n']);
  expect(cell.running).toBe(true);
  sock.receive(out(3, 'E1', 'b\n'), { seq: 4, type: 'output', executionId: 'E1', output: { output_type: 'display_data', data: { 'image/png': 'iVBOR' }, metadata: {} } });
  sock.receive({ seq: 5, type: 'execution', executionId: 'E1', state: 'ok', executionCount: 3 });
  expect(await run.done).toEqual({ state: 'ok', executionId: 'E1', executionCount: 3, error: undefined });
  expect(cell.log.slice(3)).toEqual(['add stream a\n', 'add stream b\n', 'add display_data', 'count 3', 'idle']);
  expect(cell.binding).toEqual({ profile: 'default', image: 'redlab/debian-python:12', sessionId: 'S1', executionId: 'E1' });
  expect(executor.isRunning('cell-1')).toBe(false);
});

test('no GPU on the engine (409): an error output that names the refusal and what to do; nothing runs, locally neither', async () => {
  api.createAnswers = [new BridgeError(409, 'GPUs asked: 1; the engine docker has none')];
  const cell = new FakeCell();
  const run = executor.run(cell, resolveProfile('gpu', DEFAULTS, undefined), 'nb/a.ipynb');
  expect(await run.accepted).toBe(false);
  expect(await run.done).toMatchObject({ state: 'failed' });
  expect(cell.errorText()).toMatch(/^no GPU container: GPUs asked: 1; the engine docker has none\. The cell did not run \(neither in a container nor on the local kernel\)\. Use "Run cell in container"/);
  expect(api.calls).toEqual(['create gpu redlab/debian-python:12']);
  expect(cell.running).toBe(false);
  expect(cell.binding).toEqual({ profile: 'gpu', image: 'redlab/debian-python:12', gpu: true });
});

test('the bridge cannot be reached: the error output says to start it', async () => {
  api.createAnswers = [new BridgeError(0, 'cannot reach the RED Lab bridge (fetch failed)')];
  const cell = new FakeCell();
  await executor.run(cell, resolveProfile('default', DEFAULTS, undefined), 'nb/a.ipynb').done;
  expect(cell.errorText()).toMatch(/^the RED Lab bridge cannot be reached .*Start the bridge/);
});

test('a bad profile in the notebook metadata: the error output names the field and the fix, no call to the bridge', async () => {
  let profile: ProfileError | undefined;
  try {
    resolveProfile('default', DEFAULTS, { sessionProfiles: { default: { ramMb: '2 GB' } } });
  } catch (err) {
    profile = err as ProfileError;
  }
  const cell = new FakeCell();
  await executor.run(cell, profile!, 'nb/a.ipynb').done;
  expect(cell.errorText()).toMatch(/^redlab\.sessionProfiles\.default\.ramMb must be a whole number of MB, e\.g\. 2048/);
  expect(api.calls).toEqual([]);
});

test('the session dies while the cell runs (an image without python3): the cell says why, and the next run starts a new session', async () => {
  const cell = new FakeCell();
  const run = executor.run(cell, resolveProfile('default', DEFAULTS, undefined), 'nb/a.ipynb');
  await run.accepted;
  FakeSocket.all[0].open();
  FakeSocket.all[0].receive({ seq: 1, type: 'session', session: sessionInfo({ state: 'dead', error: 'the image has no python3: pick an image with python3' }) });
  expect(await run.done).toMatchObject({ state: 'lost' });
  expect(cell.errorText()).toBe(
    'the container session ended before this cell finished: the image has no python3: pick an image with python3. Run the cell again to start a new session (its variables are gone).'
  );
  expect(cell.log.slice(-2)).toEqual(['count null', 'idle']);
  api.createAnswers = [sessionInfo({ id: 'S2' })];
  api.executeAnswers = [{ executionId: 'E2', state: 'queued' }];
  await executor.run(new FakeCell(), resolveProfile('default', DEFAULTS, undefined), 'nb/a.ipynb').accepted;
  expect(api.calls.slice(-2)).toEqual(['create default redlab/debian-python:12', 'execute S2 cell-1 print(1)']);
});

test('events the bridge no longer holds: the cell is rewritten from the execution record', async () => {
  const record: ExecutionRecord = {
    id: 'E1',
    sessionId: 'S1',
    cellId: 'cell-1',
    notebookPath: 'nb/a.ipynb',
    code: 'print(1)',
    state: 'ok',
    executionCount: 2,
    outputs: [{ output_type: 'stream', name: 'stdout', text: 'all of it\n' }],
    outputHashes: ['x'],
    image: { ref: 'redlab/debian-python:12' },
    gpus: [],
    queuedAt: 'x'
  };
  // The first ?wait=true ends at the bridge's request timeout, before the cell does.
  const answers = [{ ...record, state: 'running' as const, executionCount: undefined }, record];
  api.execution = async (id, eid, wait = false) => {
    api.calls.push(`execution ${id} ${eid}${wait ? ' wait' : ''}`);
    return answers.shift()!;
  };
  const cell = new FakeCell();
  const run = executor.run(cell, resolveProfile('default', DEFAULTS, undefined), 'nb/a.ipynb');
  await run.accepted;
  FakeSocket.all[0].open();
  FakeSocket.all[0].receive(out(1, 'E1', 'part'), out(9, 'E1', 'after the gap'), { seq: 10, type: 'execution', executionId: 'E1', state: 'ok', executionCount: 2 });
  expect(await run.done).toMatchObject({ state: 'ok', executionCount: 2 });
  expect(api.calls.filter(c => c.startsWith('execution'))).toEqual(['execution S1 E1 wait', 'execution S1 E1 wait']);
  expect(cell.outputs).toEqual(record.outputs);
  expect(cell.count).toBe(2);
});

test('a cell run again while its first run goes on: the first run writes nothing more into it', async () => {
  api.executeAnswers = [
    { executionId: 'E1', state: 'queued' },
    { executionId: 'E2', state: 'queued' }
  ];
  const cell = new FakeCell();
  const first = executor.run(cell, resolveProfile('default', DEFAULTS, undefined), 'nb/a.ipynb');
  await first.accepted;
  const second = executor.run(cell, resolveProfile('default', DEFAULTS, undefined), 'nb/a.ipynb');
  await second.accepted;
  const sock = FakeSocket.all[0];
  sock.open();
  sock.receive(out(1, 'E1', 'old'), { seq: 2, type: 'execution', executionId: 'E1', state: 'ok', executionCount: 1 }, out(3, 'E2', 'new'));
  await first.done;
  expect(cell.outputs.map(o => o.text)).toEqual(['new']);
  expect(cell.count).toBeNull();
  expect(executor.isRunning('cell-1')).toBe(true);
  sock.receive({ seq: 4, type: 'execution', executionId: 'E2', state: 'ok', executionCount: 2 });
  await second.done;
  expect(cell.count).toBe(2);
});

test('the bridge lost the session (404 on execute, e.g. it restarted): one new session, and the cell runs there', async () => {
  api.createAnswers = [sessionInfo({ id: 'S1' }), sessionInfo({ id: 'S2' })];
  api.executeAnswers = [new BridgeError(404, 'no session S1'), { executionId: 'E7', state: 'queued' }];
  const cell = new FakeCell();
  const run = executor.run(cell, resolveProfile('default', DEFAULTS, undefined), 'nb/a.ipynb');
  expect(await run.accepted).toBe(true);
  expect(api.calls).toEqual(['create default redlab/debian-python:12', 'execute S1 cell-1 print(1)', 'create default redlab/debian-python:12', 'execute S2 cell-1 print(1)']);
  await flush();
  expect(cell.binding).toMatchObject({ sessionId: 'S2', executionId: 'E7' });
});

test('a quick cell whose events all come before the execute POST answers: outputs, In [n] and the execution id in the binding', async () => {
  const cell = new FakeCell();
  await model.open({ image: 'redlab/debian-python:12', notebookPath: 'nb/a.ipynb', profile: 'default', ram: 1024 });
  const sock = FakeSocket.all[0];
  sock.open();
  const realExecute = api.execute.bind(api);
  api.execute = async (...a) => {
    const answer = await realExecute(...a);
    sock.receive({ seq: 1, type: 'execution', executionId: 'E1', state: 'running' }, out(2, 'E1', '1\n'), { seq: 3, type: 'execution', executionId: 'E1', state: 'ok', executionCount: 1 });
    return answer;
  };
  const run = executor.run(cell, resolveProfile('default', DEFAULTS, undefined), 'nb/a.ipynb');
  expect(await run.done).toMatchObject({ state: 'ok', executionId: 'E1', executionCount: 1 });
  expect(cell.outputs.map(o => o.text)).toEqual(['1\n']);
  expect(cell.count).toBe(1);
  expect(cell.binding).toEqual({ profile: 'default', image: 'redlab/debian-python:12', sessionId: 'S1', executionId: 'E1' });
});

test('output of a thread after its cell ended goes into that cell, until another run takes it', async () => {
  api.executeAnswers = [
    { executionId: 'E1', state: 'queued' },
    { executionId: 'E2', state: 'queued' }
  ];
  const cell = new FakeCell();
  const run = executor.run(cell, resolveProfile('default', DEFAULTS, undefined), 'nb/a.ipynb');
  await run.accepted;
  const sock = FakeSocket.all[0];
  sock.open();
  sock.receive({ seq: 1, type: 'execution', executionId: 'E1', state: 'ok', executionCount: 1 });
  await run.done;
  sock.receive({ seq: 2, type: 'output', executionId: null, output: { output_type: 'stream', name: 'stdout', text: 'tick\n' } });
  expect(cell.outputs.map(o => o.text)).toEqual(['tick\n']);
  const other = new FakeCell('cell-2', 'print(2)');
  const second = executor.run(other, resolveProfile('default', DEFAULTS, undefined), 'nb/a.ipynb');
  await second.accepted;
  sock.receive({ seq: 3, type: 'output', executionId: null, output: { output_type: 'stream', name: 'stdout', text: 'tock\n' } });
  // The last execution is now the other cell's: its output goes there.
  expect(cell.outputs.map(o => o.text)).toEqual(['tick\n']);
  expect(other.outputs.map(o => o.text)).toEqual(['tock\n']);
});

test('follow: an execution still running after a reload shows its outputs so far with [*], then all of them and In [n]; an ended one is left alone', async () => {
  const base: ExecutionRecord = {
    id: 'E5',
    sessionId: 'S1',
    notebookPath: 'nb/a.ipynb',
    code: 'x',
    state: 'running',
    outputs: [{ output_type: 'stream', name: 'stdout', text: 'so far\n' }],
    outputHashes: [],
    image: { ref: 'redlab/debian-python:12' },
    gpus: [],
    queuedAt: 'x'
  };
  const answers: ExecutionRecord[] = [base, { ...base }, { ...base, state: 'ok', executionCount: 4, outputs: [...base.outputs, { output_type: 'stream', name: 'stdout', text: 'done\n' }] }];
  const asked: string[] = [];
  api.execution = async (id, eid, wait = false) => {
    asked.push(`${id} ${eid}${wait ? ' wait' : ''}`);
    return answers.shift()!;
  };
  const cell = new FakeCell();
  const outcome = await executor.follow(cell, 'S1', 'E5');
  expect(asked).toEqual(['S1 E5', 'S1 E5 wait', 'S1 E5 wait']);
  expect(cell.log).toEqual(['clear', 'add stream so far\n', 'count null', '[*]', 'clear', 'add stream so far\n', 'add stream done\n', 'count 4', 'idle']);
  expect(outcome).toMatchObject({ state: 'ok', executionCount: 4 });

  api.execution = async () => ({ ...base, state: 'ok', executionCount: 1 });
  const untouched = new FakeCell();
  expect(await executor.follow(untouched, 'S1', 'E5')).toBeUndefined();
  expect(untouched.log).toEqual([]);
});
