// The docker-ssh engine against a real second Docker host behind a real sshd
// (test/helpers/remote-docker): the same RED gives byte-identical outputs locally and
// there, inputs reach the remote container although nothing can be bound, logs stream,
// cancel stops it there, a batch left behind is taken up again by a new engine, and a
// host that cannot be reached says so.
import { randomUUID } from 'crypto';
import Docker from 'dockerode';
import { createHash } from 'crypto';
import { lstat, mkdir, readFile, readdir, readlink, writeFile } from 'fs/promises';
import * as path from 'path';
import type { RunEvent, RunResult } from '../../../src/red/run';
import { loadRed } from '../../../src/red/validate';
import { DockerEngine } from '../../src/engine/docker';
import { createDockerSshEngine, DOCKER_SSH_ENGINE } from '../../src/engine/docker-ssh';
import { BUSYBOX, collectEvents, removeTempDirs, request, tempDir } from '../helpers/red';
import { runRedlab } from '../helpers/redlab-cli';
import { remoteDockerUnavailable, startRemoteDocker, type RemoteDocker } from '../helpers/remote-docker';
import { withoutRunRecord } from '../helpers/run-record';

jest.setTimeout(180_000);

const unavailable = remoteDockerUnavailable();
if (unavailable) console.warn(`\n*** SKIPPING the docker-ssh engine tests: ${unavailable} ***\n`);
const describeIfPossible = unavailable ? describe.skip : describe;

const TEST_LABEL = 'org.redlab.test';
const testId = randomUUID();
const labels = { [TEST_LABEL]: testId };

/** A RED with a File input, a Directory input (nested) and file, folder and stdout outputs. */
const RED = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c]
  inputs:
    script: {type: string, inputBinding: {position: 0}}
    table: {type: File, inputBinding: {position: 1}}
    photos: {type: Directory, inputBinding: {position: 2}}
  outputs:
    log: {type: stdout}
    summary: {type: File, outputBinding: {glob: summary.txt}}
    results: {type: Directory, outputBinding: {glob: results}}
    a: {type: File, outputBinding: {glob: a.csv}}
    b: {type: File, outputBinding: {glob: "b.*"}}
  stdout: run.log
inputs:
  script: >-
    set -e; T="$0"; P="$1"; echo "table at $T, photos at $P";
    wc -c < "$T" > summary.txt; ls -R "$P" >> summary.txt; cat "$P/sub/b.txt" >> summary.txt;
    mkdir -p results/deep; cp "$T" results/deep/copy.csv; printf 'x%.0s' $(seq 1 3000) > results/big.bin;
    head -c 5000 /dev/zero | tr '\\0' 'y' > a.csv; echo b > b.csv; chmod 600 b.csv;
    id -u >&2; echo done
  table: {class: File, connector: {command: redlab-connector-local, access: {path: "in/table.csv"}}}
  photos: {class: Directory, connector: {command: redlab-connector-local, access: {path: "in/photos"}}}
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
    ram: 256
`;

/** Every entry below `dir`: relative path → `file <sha256>`, `dir` or `link <target>`. */
async function tree(dir: string, rel = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(path.join(dir, rel))).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const p = path.join(dir, r);
    const st = await lstat(p);
    if (st.isSymbolicLink()) out[r] = `link ${await readlink(p)}`;
    else if (st.isDirectory()) Object.assign(out, { [r]: 'dir' }, await tree(dir, r));
    else out[r] = `file ${createHash('sha256').update(await readFile(p)).digest('hex')}`;
  }
  return out;
}

/** A result's outputs without where they were written (which differs between two runs). */
function outputRecords(res: RunResult): unknown {
  return JSON.parse(JSON.stringify(res.batches[0].outputs, (k, v) => (k === 'path' ? undefined : v)));
}

async function makeInputs(dir: string): Promise<void> {
  await mkdir(path.join(dir, 'in/photos/sub'), { recursive: true });
  await writeFile(path.join(dir, 'in/table.csv'), 'id,value\n1,2.5\n2,3.75\n');
  await writeFile(path.join(dir, 'in/photos/a.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 1, 2, 3]));
  await writeFile(path.join(dir, 'in/photos/sub/b.txt'), 'nested\n');
}

describeIfPossible('the docker-ssh engine on a second Docker host over SSH', () => {
  let rd: RemoteDocker;
  let remote: Docker;
  let dir: string;
  let sshOpts: { identityFile: string; knownHostsFile: string; env: NodeJS.ProcessEnv };
  const engines: DockerEngine[] = [];
  const sshEngine = (workRoot: string) => {
    const e = createDockerSshEngine(rd.dockerHost, { ...sshOpts, workRoot });
    engines.push(e);
    return e;
  };

  beforeAll(async () => {
    rd = await startRemoteDocker();
    remote = new Docker({ socketPath: rd.socketPath });
    dir = await tempDir('redlab-it-dockerssh-');
    // An empty HOME and no agent: only the fixture's key and known_hosts are used.
    sshOpts = { identityFile: rd.identityFile, knownHostsFile: rd.knownHostsFile, env: { HOME: dir } };
    await makeInputs(dir);
  });
  afterAll(async () => {
    for (const e of engines) await e.close();
    if (remote) {
      for (const c of await remote.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${testId}`] } })) await remote.getContainer(c.Id).remove({ force: true });
    }
    await rd?.stop();
    await removeTempDirs();
  });

  it('declares itself: copies files (no bind mounts), reattaches, and reports the remote engine', async () => {
    const e = sshEngine(path.join(dir, 'work-status'));
    expect(e.name).toBe(DOCKER_SSH_ENGINE);
    expect(e.capabilities).toMatchObject({ isolated: true, bindMounts: false, reattach: true, batches: true, cancel: true });
    const s = await e.status();
    expect(s).toEqual({ available: true, version: (await remote.version()).Version, note: `Docker on ${rd.dockerHost} over SSH: inputs are copied there, outputs back` });
  });

  it('the same RED gives byte-identical outputs locally and on the remote host, with nothing bound there', async () => {
    const local = new DockerEngine({ workRoot: path.join(dir, 'work-local') });
    const ssh = sshEngine(path.join(dir, 'work-ssh'));
    const localRes = await local.run(request(RED, dir, { outdir: path.join(dir, 'out-local'), labels }), {});
    expect(localRes.error).toBeUndefined();
    expect(localRes.state).toBe('succeeded');

    const ev = collectEvents();
    let containerId = '';
    const sshRes = await ssh.run(request(RED, dir, { outdir: path.join(dir, 'out-ssh'), labels, leaveContainer: true }), {
      onEvent: (e: RunEvent) => {
        ev.onEvent(e);
        if (e.type === 'container') containerId = e.containerId;
      }
    });
    expect(sshRes.error).toBeUndefined();
    expect(sshRes.state).toBe('succeeded');
    // The container ran there, not here, and had no bind mount of this host's folders.
    const info = await remote.getContainer(containerId).inspect();
    expect(info.HostConfig.Binds ?? []).toEqual([]);
    expect(info.Mounts).toEqual([]);
    expect(info.HostConfig.CapDrop).toEqual(['ALL']);
    expect(ev.logs('stdout')).toBe("table at /cc/inputs/table/table, photos at /cc/inputs/photos/photos\ndone\n");

    const localTree = await tree(path.join(dir, 'out-local'));
    const sshTree = await tree(path.join(dir, 'out-ssh'));
    expect(Object.keys(localTree)).toEqual(expect.arrayContaining(['summary.txt', 'results/deep/copy.csv', 'results/big.bin', 'a.csv', 'b.csv', 'run.log']));
    expect(sshTree).toEqual(localTree);
    expect(outputRecords(sshRes)).toEqual(outputRecords(localRes));
    // The input folder arrived whole.
    const summary = await readFile(path.join(dir, 'out-ssh/summary.txt'), 'utf8');
    expect(summary).toMatch(/^22\n[\s\S]*a\.jpg[\s\S]*nested\n$/);
    expect((await lstat(path.join(dir, 'out-ssh/b.csv'))).mode & 0o777).toBe((await lstat(path.join(dir, 'out-local/b.csv'))).mode & 0o777);
  });

  it('10 batches at once: more long requests (attach, wait) than one connection has channels, all batches end', async () => {
    const red = `redVersion: "9"
batches:
${Array.from({ length: 10 }, (_, i) => `  - inputs: {n: ${i}}\n    outputs: {}`).join('\n')}
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c, 'sleep 0.5; echo "batch $0" > n.txt']
  inputs:
    n: {type: int, inputBinding: {position: 0}}
  outputs:
    n: {type: File, outputBinding: {glob: n.txt}}
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
    ram: 256
`;
    const res = await sshEngine(path.join(dir, 'work-fan')).run(request(red, dir, { outdir: path.join(dir, 'out-fan'), labels, parallel: 10 }), {});
    expect(res.batches.map(b => [b.state, b.error])).toEqual(Array.from({ length: 10 }, () => ['succeeded', undefined]));
    for (let i = 0; i < 10; i++) expect(await readFile(path.join(dir, `out-fan_${i}`, 'n.txt'), 'utf8')).toBe(`batch ${i}\n`);
  });

  it('redlab run --docker-host ssh://… (and DOCKER_HOST=ssh://…) runs it there, with the same outputs as locally', async () => {
    await writeFile(path.join(dir, 'exp.red.yml'), RED);
    const ssh = ['--ssh-identity', rd.identityFile, '--ssh-known-hosts', rd.knownHostsFile];
    const env = { HOME: dir, SSH_AUTH_SOCK: '', REDLAB_WORK_ROOT: path.join(dir, 'work-cli') };
    const flag = await runRedlab(['run', 'exp.red.yml', '--outdir', 'out-cli', '--json', '--docker-host', rd.dockerHost, ...ssh], { cwd: dir, env });
    expect(flag.stderr).toContain('done');
    expect(flag.code).toBe(0);
    expect(JSON.parse(flag.stdout).engine).toEqual({ name: 'docker-ssh', isolated: true, note: `Docker on ${rd.dockerHost} over SSH: inputs are copied there, outputs back` });
    const byEnv = await runRedlab(['run', 'exp.red.yml', '--outdir', 'out-cli-env', '--json', ...ssh], { cwd: dir, env: { ...env, DOCKER_HOST: rd.dockerHost } });
    expect(byEnv.code).toBe(0);
    expect(JSON.parse(byEnv.stdout).engine.name).toBe('docker-ssh');
    const local = new DockerEngine({ workRoot: path.join(dir, 'work-cli-local') });
    expect((await local.run(request(RED, dir, { outdir: path.join(dir, 'out-cli-local'), labels }), {})).state).toBe('succeeded');
    // The run records differ (engine, times); each is checked by the run record's own tests.
    const expected = withoutRunRecord(await tree(path.join(dir, 'out-cli-local')));
    expect(withoutRunRecord(await tree(path.join(dir, 'out-cli')))).toEqual(expected);
    expect(withoutRunRecord(await tree(path.join(dir, 'out-cli-env')))).toEqual(expected);
    expect(Object.keys(await tree(path.join(dir, 'out-cli')))).toContain('ro-crate-metadata.json');
    // A host key it does not know: refused before anything runs, with the fingerprint and how to trust it.
    await writeFile(path.join(dir, 'empty_known_hosts'), '');
    const unknown = await runRedlab(['run', 'exp.red.yml', '--outdir', 'out-cli-x', '--docker-host', rd.dockerHost, '--ssh-identity', rd.identityFile, '--ssh-known-hosts', path.join(dir, 'empty_known_hosts')], { cwd: dir, env });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(rd.hostKeyFingerprint);
    expect(unknown.stderr).toContain('ssh-keyscan');
  });

  it('cancel stops the container on the remote host and removes it', async () => {
    const ssh = sshEngine(path.join(dir, 'work-cancel'));
    const red = RED.replace(/script: >-[\s\S]*?\n  table:/, "script: 'echo started; sleep 60'\n  table:");
    const ctl = new AbortController();
    let containerId = '';
    const t0 = Date.now();
    const res = await ssh.run(request(red, dir, { outdir: path.join(dir, 'out-cancel'), labels }), {
      signal: ctl.signal,
      onEvent: e => {
        if (e.type === 'container') containerId = e.containerId;
        if (e.type === 'log' && e.data.includes('started')) ctl.abort();
      }
    });
    expect(res.state).toBe('cancelled');
    expect(Date.now() - t0).toBeLessThan(30_000);
    await expect(remote.getContainer(containerId).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('a batch a stopping bridge could not record is found by a new engine (new connection) and collected as run() would', async () => {
    const workRoot = path.join(dir, 'work-resume');
    const runId = `it-${randomUUID()}`;
    const outdir = path.join(dir, 'out-resume');
    const first = sshEngine(workRoot);
    const res = await first.run(request(RED, dir, { outdir, labels, runId, recordBatch: () => false }), {});
    expect(res.state).toBe('succeeded');
    await first.close();

    const second = sshEngine(workRoot);
    const found = await second.recovery!.listManaged({ runId });
    expect(found).toEqual([expect.objectContaining({ runId, batch: 0, state: 'exited', exitCode: 0 })]);
    const outdir2 = path.join(dir, 'out-resume-2');
    const ev = collectEvents();
    const resumed = await second.recovery!.resumeBatch(
      { runId, batch: 0, containerId: found[0].containerId, loaded: loadRed(RED), outdir: outdir2, baseDir: dir, allowedRoots: [dir], alreadyStored: { stdout: 0, stderr: 0 } },
      { onEvent: ev.onEvent }
    );
    expect(resumed.error).toBeUndefined();
    expect(resumed.state).toBe('succeeded');
    expect(await tree(outdir2)).toEqual(await tree(outdir));
    expect(ev.logs('stdout')).toContain('done\n');
    // Recorded now: the container is removed.
    await expect(remote.getContainer(found[0].containerId).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('outputs that are links the container planted are refused as locally, and nothing outside is read', async () => {
    const red = `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: [sh, -c, 'ln -s /etc/hostname stolen.txt; ln -s / root; echo ok > fine.txt']
  inputs: {}
  outputs:
    stolen: {type: File, outputBinding: {glob: stolen.txt}}
inputs: {}
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
    ram: 256
`;
    const local = await new DockerEngine({ workRoot: path.join(dir, 'work-hl') }).run(request(red, dir, { outdir: path.join(dir, 'out-hl'), labels }), {});
    const ssh = await sshEngine(path.join(dir, 'work-hs')).run(request(red, dir, { outdir: path.join(dir, 'out-hs'), labels }), {});
    expect(local.state).toBe('failed');
    expect(ssh.state).toBe(local.state);
    expect(ssh.error).toMatch(/symbolic link/);
    expect(ssh.error?.replace(/out-hs|work-hs/g, 'X')).toBe(local.error?.replace(/out-hl|work-hl/g, 'X'));
  });

  it('a host that cannot be reached, or an unknown host key, is an unavailable engine with a clear message', async () => {
    const bad = createDockerSshEngine(`ssh://${rd.user}@${rd.host}:1`, { ...sshOpts, workRoot: path.join(dir, 'work-bad'), connectTimeoutMs: 3000 });
    engines.push(bad);
    const s = await bad.status();
    expect(s.available).toBe(false);
    expect(s.error).toMatch(/cannot reach .* over SSH: connection refused/);
    const res = await bad.run(request(RED, dir, { outdir: path.join(dir, 'out-bad'), labels }), {});
    expect(res.state).toBe('failed');
    expect(res.error).toMatch(/connection refused/);

    const emptyKnown = path.join(dir, 'known_hosts_empty');
    await writeFile(emptyKnown, '');
    const unknown = createDockerSshEngine(rd.dockerHost, { ...sshOpts, knownHostsFile: emptyKnown, workRoot: path.join(dir, 'work-unknown') });
    engines.push(unknown);
    const u = await unknown.status();
    expect(u.available).toBe(false);
    expect(u.error).toContain(rd.hostKeyFingerprint);
  });
});

afterAll(removeTempDirs);
