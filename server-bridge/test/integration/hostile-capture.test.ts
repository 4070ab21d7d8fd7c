// A hostile container against the host, on a real Docker engine: it replaces the
// folder cli.stdout names (sub/pwn.txt) with a link to a host folder, or the file
// itself with a link to a host file. Neither a live run nor a run taken up again
// after its "bridge" was SIGKILLed may write into, or read from, that host folder;
// the run fails naming the link, and removing the work folder leaves the host alone.
import { randomUUID } from 'crypto';
import { readFile, readdir, writeFile } from 'fs/promises';
import * as path from 'path';
import { loadRed } from '../../../src/red/validate';
import { DockerEngine } from '../../src/engine/docker';
import { BUSYBOX, crashRun, dockerTestFile, request, runDirs, tempDir } from '../helpers/red';

// Real containers: seconds each, and much longer on a loaded machine than jest's default 5 s.
jest.setTimeout(60_000);

const { labels } = dockerTestFile();

let dir: string;
let workRoot: string;
let outdir: string;
let host: string;
beforeEach(async () => {
  ({ dir, workRoot, outdir } = await runDirs('redlab-it-hostile-'));
  host = await tempDir('redlab-host-');
  await writeFile(path.join(host, 'keep.txt'), 'host file');
});

/** Its stdout goes to sub/pwn.txt (output `out`); `script` runs in /cc/outputs. */
const captureRed = (script: string) => `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
  outputs:
    out: {type: stdout}
  stdout: sub/pwn.txt
inputs:
  script: '${script}'
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
    ram: 256
`;

const hostUntouched = async (files: Record<string, string> = { 'keep.txt': 'host file' }) => {
  expect((await readdir(host)).sort()).toEqual(Object.keys(files).sort());
  for (const [name, text] of Object.entries(files)) expect(await readFile(path.join(host, name), 'utf8')).toBe(text);
};

const swapFolder = () => `rm -rf sub && ln -s ${host} sub`;
const swapFile = () => `ln -sf ${host}/keep.txt sub/pwn.txt`;
const folderMessage = (streams: string) =>
  `cli.stdout: the command's stdout could not be written to sub/pwn.txt in the outputs folder: sub is a symbolic link (to ${host}); ` +
  `the bridge does not follow links in the outputs folder (it is kept in ${path.join(streams, 'stdout')})`;

/** Runs the RED in a child process (the "bridge") and SIGKILLs it once the container printed `armed`; returns the container. */
const crashWhenArmed = (red: string, runId: string) => crashRun({ red, dir, outdir, workRoot, runId, labels }, c => c.stored.stdout.includes('armed'));

describe('capture files in a folder the container swapped for a link', () => {
  it('live: the run fails naming the link, nothing is written to the host folder, and removing the work folder leaves it alone', async () => {
    const runId = `it-${randomUUID()}`;
    const engine = new DockerEngine({ workRoot });
    const res = await engine.run(request(captureRed(`${swapFolder()} && echo owned`), dir, { labels, runId }), {});
    expect(res.state).toBe('failed');
    expect(res.exitCode).toBe(0);
    const streams = path.join(engine.batchWorkDir(runId, 0).dir, 'streams');
    expect(res.error).toBe(folderMessage(streams));
    expect(res.outputs!.out).toBeNull();
    // The stdout is kept where the message says.
    expect(await readFile(path.join(streams, 'stdout'), 'utf8')).toBe('owned\n');
    await hostUntouched();
    await engine.removeWorkDir(runId);
    await expect(readdir(engine.batchWorkDir(runId, 0).dir)).rejects.toThrow();
    await hostUntouched();
  });

  it('live: a link planted at the file itself is replaced, not written through; the run succeeds with its stdout', async () => {
    const res = await new DockerEngine({ workRoot }).run(request(captureRed(`${swapFile()} && echo hello`), dir, { labels }), {});
    expect(res.error).toBeUndefined();
    expect(res.state).toBe('succeeded');
    expect(await readFile(path.join(outdir, 'pwn.txt'), 'utf8')).toBe('hello\n');
    expect(res.outputs!.out).toMatchObject({ path: path.join(outdir, 'pwn.txt'), size: 6 });
    await hostUntouched();
  });

  it('after a SIGKILL: the run taken up again fails naming the link, and nothing reaches the host folder', async () => {
    const red = captureRed(`${swapFolder()} && echo armed && sleep 2 && echo after`);
    const runId = `it-${randomUUID()}`;
    const crash = await crashWhenArmed(red, runId);
    const engine = new DockerEngine({ workRoot });
    const res = await engine.resumeBatch({ runId, batch: 0, containerId: crash.containerId!, loaded: loadRed(red), outdir, alreadyStored: crash.bytes }, {});
    expect(res.state).toBe('failed');
    expect(res.exitCode).toBe(0);
    const streams = path.join(engine.batchWorkDir(runId, 0).dir, 'streams');
    expect(res.error).toBe(folderMessage(streams));
    // Rebuilt whole from Docker's log, in the private folder.
    expect(await readFile(path.join(streams, 'stdout'), 'utf8')).toBe('armed\nafter\n');
    await hostUntouched();
    await engine.removeWorkDir(runId);
    await hostUntouched();
  }, 60_000);

  it('after a SIGKILL: a link planted at the file itself is replaced, not written through', async () => {
    const red = captureRed(`${swapFile()} && echo armed && sleep 2 && echo after`);
    const runId = `it-${randomUUID()}`;
    const crash = await crashWhenArmed(red, runId);
    const res = await new DockerEngine({ workRoot }).resumeBatch(
      { runId, batch: 0, containerId: crash.containerId!, loaded: loadRed(red), outdir, alreadyStored: crash.bytes },
      {}
    );
    expect(res.error).toBeUndefined();
    expect(res.state).toBe('succeeded');
    expect(await readFile(path.join(outdir, 'pwn.txt'), 'utf8')).toBe('armed\nafter\n');
    await hostUntouched();
  }, 60_000);
});
