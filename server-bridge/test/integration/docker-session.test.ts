// Container sessions on the real Docker engine (issue 10, the engine's part): the runner
// copied into redlab/debian-python:12 keeps its namespace across executes, shares the
// notebook's folder both ways, is interrupted by SIGINT and goes on, refuses an image
// without python3 with why, and the container is hardened, labelled as a session (never
// as a run's batch) and removed at the end.
import Docker from 'dockerode';
import { randomUUID } from 'crypto';
import { readFile, writeFile } from 'fs/promises';
import { createDockerClient } from '../../src/engine/docker-client';
import { DockerSession, SESSION_WORK_DIR, SessionEndedError, type SessionMessage } from '../../src/engine/docker-session';
import { LABEL_MANAGED, LABEL_SESSION } from '../../src/engine/host-config';
import { BUSYBOX, PYTHON, removeTempDirs, tempDir } from '../helpers/red';

jest.setTimeout(120_000);

const docker: Docker = createDockerClient();
const sessions: DockerSession[] = [];
afterAll(async () => {
  for (const s of sessions) await s.stop().catch(() => undefined);
  await removeTempDirs();
});

/** A session with its messages, and a way to run a cell and get what it sent until `done`. */
async function session(image = PYTHON) {
  const dir = await tempDir('redlab-it-session-');
  const messages: SessionMessage[] = [];
  const waiters: Array<() => void> = [];
  const s = await DockerSession.start(
    docker,
    { sessionId: `it-${randomUUID()}`, image, workDir: dir, ramMb: 256, labels: { 'org.redlab.test': 'session' } },
    {
      onMessage: m => {
        messages.push(m);
        for (const w of waiters.splice(0)) w();
      }
    }
  );
  sessions.push(s);
  const until = async (pred: () => boolean) => {
    while (!pred()) await new Promise<void>(r => waiters.push(r));
  };
  const run = async (code: string) => {
    const id = randomUUID();
    s.execute(id, code);
    await until(() => messages.some(m => m.type === 'done' && m.id === id));
    const mine = messages.filter(m => 'id' in m && m.id === id);
    const outputs = mine.filter((m): m is Extract<SessionMessage, { type: 'output' }> => m.type === 'output').map(m => m.output);
    const done = mine.find((m): m is Extract<SessionMessage, { type: 'done' }> => m.type === 'done') as Extract<SessionMessage, { type: 'done' }>;
    const stdout = outputs.filter(o => o.output_type === 'stream' && o.name === 'stdout').map(o => o.text).join('');
    return { id, outputs, done, stdout };
  };
  return { s, dir, messages, run, until };
}

test('state is kept across executes, and the notebook folder is shared both ways', async () => {
  const { s, dir, run } = await session();
  expect(s.ready).toMatchObject({ type: 'ready', python: expect.stringMatching(/^3\./) });
  const first = await run('x = 41');
  expect(first.done).toMatchObject({ status: 'ok', executionCount: 1 });
  const second = await run('print(x + 1)');
  expect([second.stdout, second.done.status, second.done.executionCount]).toEqual(['42\n', 'ok', 2]);

  await writeFile(`${dir}/from-host.txt`, 'written on the host');
  const shared = await run("import os\nprint(os.getcwd())\nprint(open('from-host.txt').read())\nopen('from-container.txt', 'w').write('written in the container')");
  expect(shared.stdout).toBe(`${SESSION_WORK_DIR}\nwritten on the host\n`);
  expect(await readFile(`${dir}/from-container.txt`, 'utf8')).toBe('written in the container');
});

test('interrupt stops a running cell (KeyboardInterrupt, aborted); the namespace survives', async () => {
  const { s, messages, run, until } = await session();
  await run('x = 7');
  const id = randomUUID();
  s.execute(id, 'while True:\n    pass');
  await until(() => messages.some(m => m.type === 'status' && m.id === id));
  await s.interrupt();
  await until(() => messages.some(m => m.type === 'done' && m.id === id));
  const done = messages.find(m => m.type === 'done' && m.id === id);
  expect(done).toMatchObject({ status: 'aborted' });
  expect(messages.find(m => m.type === 'output' && m.id === id && m.output.output_type === 'error')).toMatchObject({ output: { ename: 'KeyboardInterrupt' } });
  expect((await run('print(x * 6)')).stdout).toBe('42\n');
});

test('the container is hardened, bound only to the notebook folder, and labelled as a session; stop removes it', async () => {
  const { s, dir } = await session();
  const info = await docker.getContainer(s.containerId).inspect();
  expect(info.HostConfig.CapDrop).toEqual(['ALL']);
  expect(info.HostConfig.SecurityOpt).toEqual(['no-new-privileges']);
  expect(info.HostConfig.Memory).toBe(256 * 1024 * 1024);
  expect(info.HostConfig.Binds).toEqual([`${dir}:${SESSION_WORK_DIR}:rw`]);
  expect(info.Config.Labels[LABEL_SESSION]).toBeDefined();
  expect(info.Config.Labels[LABEL_MANAGED]).toBeUndefined(); // run recovery never takes it for a batch
  await s.stop();
  await expect(docker.getContainer(s.containerId).inspect()).rejects.toMatchObject({ statusCode: 404 });
  expect(() => s.execute('late', 'print(1)')).toThrow(SessionEndedError);
});

test('an image without python3 is refused with why, and leaves no container', async () => {
  const dir = await tempDir('redlab-it-session-nopy-');
  const sessionId = `it-${randomUUID()}`;
  const err = await DockerSession.start(docker, { sessionId, image: BUSYBOX, workDir: dir, ramMb: 256 }, { onMessage: () => undefined }).then(
    () => {
      throw new Error('expected a refusal');
    },
    e => e as Error
  );
  expect(err).toBeInstanceOf(SessionEndedError);
  expect(err.message).toMatch(/the image has no python3, which runs the cells/);
  expect(await docker.listContainers({ all: true, filters: { label: [`${LABEL_SESSION}=${sessionId}`] } })).toEqual([]);
});
