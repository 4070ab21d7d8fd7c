// The remote Docker host fixture is real: a second engine, reached only over ssh, that
// verifies host keys and accepts only its key; and it leaves nothing behind. Also pins
// down what docker-modem's ssh transport does (the traps the SSH engine must work around).
import { execFile } from 'child_process';
import Docker from 'dockerode';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { Client } from 'ssh2';
import type { Duplex } from 'stream';
import { promisify } from 'util';
import { remoteDockerUnavailable, startRemoteDocker, type RemoteDocker } from '../helpers/remote-docker';

const run = promisify(execFile);
jest.setTimeout(120_000);

const unavailable = remoteDockerUnavailable();
if (unavailable) console.warn(`\n*** SKIPPING the remote Docker host tests: ${unavailable} ***\n`);
const describeIfPossible = unavailable ? describe.skip : describe;

const tempDirs: string[] = [];
const tempDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-rd-test-'));
  tempDirs.push(d);
  return d;
};

/** docker CLI over ssh, as a user would run it: `docker -H ssh://... --config <tmp>`. */
function remoteCli(rd: RemoteDocker, args: string[], env: NodeJS.ProcessEnv = rd.cliEnv) {
  return run('docker', ['-H', rd.dockerHost, '--config', tempDir(), ...args], { env, timeout: 60_000 });
}

/** An environment whose `ssh` uses the given ssh_config lines for the remote host instead of the fixture's. */
function sshEnv(rd: RemoteDocker, lines: string[]): NodeJS.ProcessEnv {
  const dir = tempDir();
  const config = path.join(dir, 'ssh_config');
  fs.writeFileSync(config, [`Host ${rd.host}`, `  Port ${rd.port}`, '  GlobalKnownHostsFile /dev/null', '  BatchMode yes', ...lines.map(l => `  ${l}`), ''].join('\n'));
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.writeFileSync(path.join(dir, 'bin', 'ssh'), `#!/bin/sh\nexec /usr/bin/ssh -F '${config}' "$@"\n`, { mode: 0o755 });
  return { ...process.env, PATH: `${path.join(dir, 'bin')}:${process.env.PATH}` };
}

const acceptedLogins = (rd: RemoteDocker) => (fs.readFileSync(rd.sshdLog, 'utf8').match(/Accepted publickey/g) ?? []).length;

describeIfPossible('remote Docker host over ssh (network namespace, second dockerd, sshd)', () => {
  let rd: RemoteDocker;
  beforeAll(async () => {
    rd = await startRemoteDocker();
  });
  afterAll(async () => {
    await rd?.stop();
    for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('docker -H ssh:// info reaches the second engine, not the local one', async () => {
    const { stdout } = await remoteCli(rd, ['info', '--format', '{{.DockerRootDir}}']);
    expect(stdout.trim()).toBe(rd.dataRoot);
    const local = await run('docker', ['info', '--format', '{{.DockerRootDir}}']);
    expect(local.stdout.trim()).not.toBe(rd.dataRoot);
  });

  it('docker -H ssh:// run --rm redlab/busybox:1 echo hi prints hi', async () => {
    const { stdout } = await remoteCli(rd, ['run', '--rm', 'redlab/busybox:1', 'echo', 'hi']);
    expect(stdout).toBe('hi\n');
  });

  it('is really another engine: its own image list, and what is made there does not exist locally', async () => {
    const list = async (env?: NodeJS.ProcessEnv, host: string[] = []) =>
      (await run('docker', [...host, 'images', '--format', '{{.Repository}}:{{.Tag}}'], { env })).stdout.trim().split('\n').sort();
    expect(await list(rd.cliEnv, ['-H', rd.dockerHost])).toEqual(['redlab/busybox:1']);
    expect(await list()).toEqual(expect.arrayContaining(['redlab/busybox:1', 'redlab/debian-python:12']));
    const tag = `redlab-rd/only-remote:${rd.namespace}`;
    await remoteCli(rd, ['tag', 'redlab/busybox:1', tag]);
    await expect(remoteCli(rd, ['image', 'inspect', tag])).resolves.toBeDefined();
    await expect(run('docker', ['image', 'inspect', tag])).rejects.toMatchObject({ stderr: expect.stringContaining('No such image') });
  });

  it('cannot see this host\'s files: a local bind source arrives as the empty folder the remote engine makes', async () => {
    const local = tempDir();
    fs.writeFileSync(path.join(local, 'input.txt'), 'local data\n');
    const cmd = ['run', '--rm', '-v', `${local}:/in:ro`, 'redlab/busybox:1', 'sh', '-c', 'ls -A /in; cat /in/input.txt 2>&1 || true'];
    expect((await run('docker', cmd)).stdout).toBe('input.txt\nlocal data\n');
    expect((await remoteCli(rd, cmd)).stdout).toBe('cat: can\'t open \'/in/input.txt\': No such file or directory\n');
    // Nor is the host engine reachable from there; a plain `docker` in an ssh session is the remote engine.
    const onRemote = (cmd: string) => run('ssh', ['-F', rd.sshConfigFile, `${rd.user}@${rd.host}`, cmd]);
    const hostSocket = await onRemote('docker -H unix:///var/run/docker.sock info --format "{{.DockerRootDir}}"').catch(e => e);
    expect(hostSocket.stderr).toContain('Cannot connect to the Docker daemon at unix:///var/run/docker.sock');
    expect((await onRemote('docker info --format "{{.DockerRootDir}}"')).stdout.trim()).toBe(rd.dataRoot);
  });

  it('refuses an unknown host key (StrictHostKeyChecking yes, empty known_hosts); the key it presents is the one in known_hosts', async () => {
    const empty = path.join(tempDir(), 'known_hosts');
    fs.writeFileSync(empty, '');
    const env = sshEnv(rd, [`IdentityFile ${rd.identityFile}`, 'IdentitiesOnly yes', `UserKnownHostsFile ${empty}`, 'StrictHostKeyChecking yes']);
    const err = await remoteCli(rd, ['info'], env).catch(e => e);
    expect(err.code).not.toBe(0);
    expect(err.stderr).toContain(`No ED25519 host key is known for ${rd.host}`);
    expect(err.stderr).toContain('Host key verification failed');
    const scanned = await run('sh', ['-c', 'ssh-keyscan -t ed25519 -p "$2" "$1" 2>/dev/null | ssh-keygen -l -E sha256 -f -', 'sh', rd.host, String(rd.port)]);
    expect(scanned.stdout.split(/\s+/)[1]).toBe(rd.hostKeyFingerprint);
    expect(fs.readFileSync(rd.knownHostsFile, 'utf8')).toBe(`${rd.host} ${rd.hostPublicKey}\n`);
  });

  it('refuses a changed host key, and a client key it does not know', async () => {
    const other = path.join(tempDir(), 'other_key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const otherPub = fs.readFileSync(`${other}.pub`, 'utf8').split(/\s+/).slice(0, 2).join(' ');
    const wrongHosts = path.join(tempDir(), 'known_hosts');
    fs.writeFileSync(wrongHosts, `${rd.host} ${otherPub}\n`);
    const changed = sshEnv(rd, [`IdentityFile ${rd.identityFile}`, 'IdentitiesOnly yes', `UserKnownHostsFile ${wrongHosts}`, 'StrictHostKeyChecking yes']);
    const err1 = await remoteCli(rd, ['info'], changed).catch(e => e);
    expect(err1.stderr).toContain('REMOTE HOST IDENTIFICATION HAS CHANGED');

    const stranger = sshEnv(rd, [`IdentityFile ${other}`, 'IdentitiesOnly yes', `UserKnownHostsFile ${rd.knownHostsFile}`, 'StrictHostKeyChecking yes']);
    const err2 = await remoteCli(rd, ['info'], stranger).catch(e => e);
    expect(err2.stderr).toContain('Permission denied (publickey)');
  });

  it('docker-modem over ssh: accepts any host key unless given a hostVerifier, and opens one ssh connection per API call', async () => {
    const privateKey = fs.readFileSync(rd.identityFile);
    const modem = (sshOptions: Record<string, unknown>) => new Docker({ protocol: 'ssh', host: rd.host, port: rd.port, username: rd.user, sshOptions: { privateKey, ...sshOptions } } as Docker.DockerOptions);
    // No hostVerifier: no known_hosts is consulted at all, so this trusts whatever answers.
    const before = acceptedLogins(rd);
    const trusting = modem({});
    expect(String(await trusting.ping())).toBe('OK');
    expect((await trusting.info()).DockerRootDir).toBe(rd.dataRoot);
    await trusting.listImages();
    await new Promise(r => setTimeout(r, 300)); // sshd writes its log line after the handshake
    expect(acceptedLogins(rd) - before).toBe(3);

    const expected = Buffer.from(rd.hostPublicKey.split(' ')[1], 'base64');
    const seen: Buffer[] = [];
    const verified = modem({ hostVerifier: (key: Buffer) => (seen.push(key), key.equals(expected)) });
    expect(String(await verified.ping())).toBe('OK');
    expect(seen).toHaveLength(1);
    const refusing = modem({ hostVerifier: () => false });
    await expect(refusing.ping()).rejects.toThrow(/host/i);
  });

  it('one ssh connection can carry many API calls: dockerode over an http.Agent that opens dial-stdio channels on one ssh2 Client', async () => {
    const before = acceptedLogins(rd);
    const conn = new Client();
    const expected = Buffer.from(rd.hostPublicKey.split(' ')[1], 'base64');
    await new Promise<void>((resolve, reject) => {
      conn.once('ready', () => resolve());
      conn.once('error', reject);
      conn.connect({ host: rd.host, port: rd.port, username: rd.user, privateKey: fs.readFileSync(rd.identityFile), hostVerifier: (key: Buffer) => key.equals(expected) });
    });
    try {
      // No keepAlive: an ssh2 channel is no net.Socket (no setKeepAlive); each request is a new channel on the one connection.
      const agent = new http.Agent();
      (agent as unknown as { createConnection: unknown }).createConnection = (_opts: unknown, cb: (err: Error | null, stream?: Duplex) => void) => {
        conn.exec('docker system dial-stdio', (err, stream) => (err ? cb(err) : cb(null, stream)));
      };
      const docker = new Docker({ protocol: 'http', host: rd.host, port: 2375, agent } as Docker.DockerOptions);
      expect((await docker.info()).DockerRootDir).toBe(rd.dataRoot);
      const container = await docker.createContainer({ Image: 'redlab/busybox:1', Cmd: ['true'] });
      await container.start();
      expect((await container.wait()).StatusCode).toBe(0);
      await container.remove();
      agent.destroy();
    } finally {
      conn.end();
    }
    await new Promise(r => setTimeout(r, 300));
    expect(acceptedLogins(rd) - before).toBe(1);
  });

  it('stop() removes the namespace, the veth pair, the daemons and the temp dir', async () => {
    const dir = path.dirname(rd.socketPath);
    const pid = Number(fs.readFileSync(path.join(dir, 'dockerd.pid'), 'utf8'));
    await rd.stop();
    expect((await run('ip', ['netns', 'list'])).stdout).not.toContain(rd.namespace);
    expect((await run('ip', ['-o', 'link', 'show'])).stdout).not.toContain(`rdh-${rd.namespace.slice('redlab-rd-'.length)}`);
    expect(fs.existsSync(dir)).toBe(false);
    expect(() => process.kill(pid, 0)).toThrow();
    await expect(run('ssh', ['-F', '/dev/null', '-o', 'ConnectTimeout=2', '-o', 'BatchMode=yes', `${rd.user}@${rd.host}`, 'true'])).rejects.toBeDefined();
  });
});
