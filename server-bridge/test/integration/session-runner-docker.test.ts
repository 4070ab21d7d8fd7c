// The session runner inside the real image redlab/debian-python:12 (Debian's python3, nothing
// else), started as the bridge will start it: `docker run -i` with the runner mounted read-only;
// state kept across executes, and an interrupt sent with `docker kill -s INT`.
import { execFile, spawn } from 'child_process';
import { promisify } from 'util';
import { SESSION_RUNNER, SessionRunnerClient, streamText } from '../helpers/session-runner';

jest.setTimeout(120_000);

const run = promisify(execFile);
const IMAGE = 'redlab/debian-python:12';
const name = `redlab-test-session-${process.pid}-${Date.now()}`;
let runner: SessionRunnerClient;

beforeAll(async () => {
  const child = spawn(
    'docker',
    [
      'run', '-i', '--rm', '--name', name, '--network', 'none', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
      '-v', `${SESSION_RUNNER}:/opt/redlab/redlab_session.py:ro`,
      IMAGE, 'python3', '-u', '/opt/redlab/redlab_session.py'
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] }
  );
  runner = new SessionRunnerClient(child);
  await runner.ready(60_000);
});

afterAll(async () => {
  try {
    await runner.shutdown(20_000);
  } finally {
    await run('docker', ['rm', '-f', name]).catch(() => undefined);
  }
});

describe('session runner in a container', () => {
  it("says ready as the container's process 1, with Debian 12's python", () => {
    const ready = runner.messages[0];
    expect(ready.type).toBe('ready');
    expect(ready.runner).toBe('1');
    expect(ready.python).toMatch(/^3\.11\.\d+$/);
    expect(ready.pid).toBe(1);
  });

  it('keeps state across executes and streams a child process', async () => {
    const first = await runner.execute('x = 41\nimport platform\nplatform.python_version()');
    expect(first.done.status).toBe('ok');
    expect(first.outputs[0].output_type).toBe('execute_result');
    const second = await runner.execute('print(x + 1)\n!echo from the shell');
    expect(second.done).toMatchObject({ status: 'ok', executionCount: 2 });
    expect(streamText(second)).toBe('42\nfrom the shell\n');
    expect(runner.badLines).toEqual([]);
  });

  it('is interrupted by docker kill -s INT and goes on with its state', async () => {
    const id = runner.start('print("spinning", flush=True)\nwhile True:\n    pass');
    await runner.waitFor((m) => m.type === 'output' && m.id === id, 20_000);
    await run('docker', ['kill', '-s', 'INT', name]);
    const interrupted = await runner.finish(id, 20_000);
    expect(interrupted.done.status).toBe('aborted');
    expect(interrupted.outputs[interrupted.outputs.length - 1]).toMatchObject({ output_type: 'error', ename: 'KeyboardInterrupt' });
    const after = await runner.execute('print(x)');
    expect(after.done.status).toBe('ok');
    expect(streamText(after)).toBe('41\n');
    expect(runner.badLines).toEqual([]);
  });

  it('exits 0 on shutdown, which ends the container', async () => {
    expect(await runner.shutdown(20_000)).toBe(0);
    const { stdout } = await run('docker', ['ps', '-a', '--filter', `name=${name}`, '--format', '{{.Names}}']);
    expect(stdout.trim()).toBe('');
  });
});
