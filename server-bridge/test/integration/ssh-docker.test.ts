// openSshDocker against a real second Docker host behind a real sshd (test/helpers/remote-docker):
// one verified login carries every API call; unknown, changed and hashed host keys, a wrong
// client key, an unreachable host and a host without docker each end as a clear error.
import { execFile, execFileSync } from 'child_process';
import Docker from 'dockerode';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { openSshDocker, SPILL_AFTER_MS, SshDockerError, type SshDockerOptions } from '../../src/engine/ssh-docker';
import { remoteDockerUnavailable, startRemoteDocker, type RemoteDocker } from '../helpers/remote-docker';

const run = promisify(execFile);
jest.setTimeout(120_000);

const unavailable = remoteDockerUnavailable();
if (unavailable) console.warn(`\n*** SKIPPING the SSH Docker tests: ${unavailable} ***\n`);
const describeIfPossible = unavailable ? describe.skip : describe;

const acceptedLogins = (rd: RemoteDocker) => (fs.readFileSync(rd.sshdLog, 'utf8').match(/Accepted publickey/g) ?? []).length;
/** sshd logs the login just after the handshake. */
const settle = () => new Promise(r => setTimeout(r, 300));

/** Stdout of a non-tty container's log stream (8-byte frame headers stripped). */
function demux(buf: Buffer): string {
  let out = '';
  for (let i = 0; i + 8 <= buf.length; ) {
    const len = buf.readUInt32BE(i + 4);
    if (buf[i] === 1) out += buf.subarray(i + 8, i + 8 + len).toString();
    i += 8 + len;
  }
  return out;
}

/** create, start, wait, logs, remove: what a run does, on the given client. */
async function runEcho(docker: Docker, text: string): Promise<{ code: number; logs: string }> {
  const c = await docker.createContainer({ Image: 'redlab/busybox:1', Cmd: ['echo', text] });
  await c.start();
  const { StatusCode } = await c.wait();
  const logs = demux((await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer);
  await c.remove();
  return { code: StatusCode, logs };
}

describeIfPossible('openSshDocker: one verified SSH connection to a second Docker host', () => {
  let rd: RemoteDocker;
  let tmp: string;
  let base: SshDockerOptions;
  beforeAll(async () => {
    rd = await startRemoteDocker();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-sshdocker-'));
    // An empty HOME and no agent: only the keys and known_hosts a test names are used.
    base = { identityFile: rd.identityFile, knownHostsFile: rd.knownHostsFile, env: { HOME: tmp } };
  });
  afterAll(async () => {
    await rd?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const refusal = async (p: Promise<unknown>): Promise<SshDockerError> => {
    const err = await p.then(
      () => {
        throw new Error('expected a refusal');
      },
      e => e
    );
    expect(err).toBeInstanceOf(SshDockerError);
    return err as SshDockerError;
  };

  it('info and version over one login reach the remote engine, verified against known_hosts', async () => {
    const before = acceptedLogins(rd);
    const s = await openSshDocker(rd.dockerHost, base);
    try {
      expect(s.target).toEqual({ user: rd.user, host: rd.host, port: rd.port });
      expect(s.hostKeyFingerprint).toBe(rd.hostKeyFingerprint);
      expect((await s.docker.info()).DockerRootDir).toBe(rd.dataRoot);
      expect((await s.docker.version()).ApiVersion).toMatch(/^\d+\.\d+$/);
      await s.docker.listImages();
    } finally {
      s.close();
    }
    await settle();
    expect(acceptedLogins(rd) - before).toBe(1);
  });

  it('runs a busybox container and reads its logs, all on one connection; timing vs local', async () => {
    const before = acceptedLogins(rd);
    const t0 = Date.now();
    const s = await openSshDocker(rd.dockerHost, base);
    const connected = Date.now();
    try {
      expect(await runEcho(s.docker, 'hello over ssh')).toEqual({ code: 0, logs: 'hello over ssh\n' });
      const ran = Date.now();
      expect(await runEcho(s.docker, 'again')).toEqual({ code: 0, logs: 'again\n' });
      const again = Date.now();
      s.close();
      await settle();
      expect(acceptedLogins(rd) - before).toBe(1);
      const local = new Docker();
      const l0 = Date.now();
      expect(await runEcho(local, 'hello locally')).toEqual({ code: 0, logs: 'hello locally\n' });
      const l1 = Date.now();
      // The docker CLI for comparison (it opens an ssh connection per API call).
      const cliLogins = acceptedLogins(rd);
      const c0 = Date.now();
      await run('docker', ['-H', rd.dockerHost, 'run', '--rm', 'redlab/busybox:1', 'echo', 'hi'], { env: rd.cliEnv });
      const c1 = Date.now();
      await settle();
      console.log(
        `ssh-docker timing: connect+verify+ping ${connected - t0} ms; run (create/start/wait/logs/remove) over ssh ${ran - connected} ms, ` +
          `second run ${again - ran} ms; same run locally ${l1 - l0} ms; docker -H ssh:// run --rm ${c1 - c0} ms (${acceptedLogins(rd) - cliLogins} ssh logins)`
      );
    } finally {
      s.close();
    }
  });

  it('follows a running container\'s logs as a stream through a dial-stdio channel', async () => {
    const s = await openSshDocker(rd.dockerHost, base);
    try {
      const c = await s.docker.createContainer({ Image: 'redlab/busybox:1', Cmd: ['sh', '-c', 'echo one; sleep 0.5; echo two'] });
      await c.start();
      const stream = (await c.logs({ stdout: true, stderr: true, follow: true })) as unknown as NodeJS.ReadableStream;
      const chunks: Buffer[] = [];
      const arrivals: number[] = [];
      for await (const chunk of stream) {
        chunks.push(chunk as Buffer);
        arrivals.push(Date.now());
      }
      expect(demux(Buffer.concat(chunks))).toBe('one\ntwo\n');
      expect(arrivals[arrivals.length - 1] - arrivals[0]).toBeGreaterThanOrEqual(300); // streamed, not read at the end
      expect((await c.wait()).StatusCode).toBe(0);
      await c.remove();
    } finally {
      s.close();
    }
  });

  it('sequential requests reuse one dial-stdio channel (keep-alive): one docker process there, not one per request', async () => {
    // A docker wrapper on the remote host that counts how often it is started.
    await rd.shell(
      "mountpoint -q /usr/local/bin || mount -t tmpfs -o size=1m,mode=755 redlab-bin /usr/local/bin; printf '#!/bin/sh\\necho started >> /root/dial-count\\nexec docker \"$@\"\\n' > /usr/local/bin/docker-counted; chmod 755 /usr/local/bin/docker-counted; rm -f /root/dial-count"
    );
    const s = await openSshDocker(rd.dockerHost, { ...base, remoteDocker: '/usr/local/bin/docker-counted' });
    try {
      for (let i = 0; i < 10; i++) expect((await s.docker.ping()).toString()).toBe('OK');
      expect((await s.docker.version()).ApiVersion).toMatch(/^\d+\.\d+$/);
      await s.docker.listContainers({ all: true });
    } finally {
      s.close();
    }
    expect((await rd.shell('cat /root/dial-count')).trim().split('\n')).toEqual(['started']);
  });

  it('many short requests at once share the one connection: beyond sshd\'s MaxSessions (10) they wait instead of failing', async () => {
    const before = acceptedLogins(rd);
    const s = await openSshDocker(rd.dockerHost, base);
    try {
      const results = await Promise.all(Array.from({ length: 24 }, () => s.docker.ping()));
      expect(results.map(String)).toEqual(Array(24).fill('OK'));
    } finally {
      s.close();
    }
    await settle();
    expect(acceptedLogins(rd) - before).toBe(1);
  });

  it('long requests holding every channel do not block the others for good: after a moment a second connection carries them', async () => {
    const before = acceptedLogins(rd);
    const s = await openSshDocker(rd.dockerHost, { ...base, maxChannels: 2 });
    const c = await s.docker.createContainer({ Image: 'redlab/busybox:1', Cmd: ['sh', '-c', 'echo up; sleep 4'] });
    try {
      await c.start();
      // Two followed logs hold both channels of the first connection until the container ends
      // (as attach and wait hold theirs while a container's start waits behind them).
      const follows = [0, 1].map(async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of (await c.logs({ stdout: true, follow: true })) as unknown as NodeJS.ReadableStream) chunks.push(chunk as Buffer);
        return demux(Buffer.concat(chunks));
      });
      await new Promise(r => setTimeout(r, 500)); // both channels taken
      const t0 = Date.now();
      expect((await s.docker.ping()).toString()).toBe('OK');
      const took = Date.now() - t0;
      expect(took).toBeGreaterThanOrEqual(SPILL_AFTER_MS - 50); // it waited for a channel first,
      expect(took).toBeLessThan(3000); // and did not wait for the container to end
      expect(await Promise.all(follows)).toEqual(['up\n', 'up\n']);
    } finally {
      await c.remove({ force: true }).catch(() => undefined);
      s.close();
    }
    await settle();
    expect(acceptedLogins(rd) - before).toBe(2);
  });

  it('logs in with the default key (~/.ssh/id_ed25519) and known_hosts (~/.ssh/known_hosts), or through the ssh agent alone', async () => {
    const home = path.join(tmp, 'home');
    fs.mkdirSync(path.join(home, '.ssh'), { recursive: true, mode: 0o700 });
    fs.copyFileSync(rd.identityFile, path.join(home, '.ssh', 'id_ed25519'));
    fs.chmodSync(path.join(home, '.ssh', 'id_ed25519'), 0o600);
    fs.copyFileSync(rd.knownHostsFile, path.join(home, '.ssh', 'known_hosts'));
    const s = await openSshDocker(rd.dockerHost, { env: { HOME: home } });
    try {
      expect((await s.docker.info()).DockerRootDir).toBe(rd.dataRoot);
    } finally {
      s.close();
    }

    const sock = path.join(tmp, 'agent.sock');
    const agentOut = execFileSync('ssh-agent', ['-a', sock, '-s']).toString();
    const agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(agentOut)?.[1]);
    try {
      execFileSync('ssh-add', ['-q', rd.identityFile], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      const viaAgent = await openSshDocker(rd.dockerHost, { knownHostsFile: rd.knownHostsFile, env: { HOME: tmp, SSH_AUTH_SOCK: sock } });
      try {
        expect(String(await viaAgent.docker.ping())).toBe('OK');
      } finally {
        viaAgent.close();
      }
    } finally {
      process.kill(agentPid, 'SIGTERM');
    }
  });

  it('accepts a host key known only through a hashed entry (ssh-keygen -H)', async () => {
    const file = path.join(tmp, 'hashed_known_hosts');
    fs.copyFileSync(rd.knownHostsFile, file);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
    expect(fs.readFileSync(file, 'utf8')).not.toContain(rd.host);
    const s = await openSshDocker(rd.dockerHost, { ...base, knownHostsFile: file });
    try {
      expect(String(await s.docker.ping())).toBe('OK');
    } finally {
      s.close();
    }
  });

  it('refuses an unknown host key, with its fingerprint and how to trust it; logs nobody in', async () => {
    const before = acceptedLogins(rd);
    const empty = path.join(tmp, 'empty_known_hosts');
    fs.writeFileSync(empty, `other.example.org ${rd.hostPublicKey}\n`);
    const err = await refusal(openSshDocker(rd.dockerHost, { ...base, knownHostsFile: empty }));
    expect(err.kind).toBe('unknown-host');
    expect(err.message).toContain(rd.hostKeyFingerprint);
    expect(err.message).toContain(`ssh-keyscan -p ${rd.port} ${rd.host} >> ${empty}`);
    // A missing file (the default on a fresh account) is the same: every host unknown.
    const missing = await refusal(openSshDocker(rd.dockerHost, { ...base, knownHostsFile: path.join(tmp, 'nope') }));
    expect(missing.kind).toBe('unknown-host');
    await settle();
    expect(acceptedLogins(rd) - before).toBe(0);
  });

  it('refuses a changed host key, saying it changed', async () => {
    const other = path.join(tmp, 'other_host_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const file = path.join(tmp, 'changed_known_hosts');
    fs.writeFileSync(file, `${rd.host} ${fs.readFileSync(`${other}.pub`, 'utf8').split(/\s+/).slice(0, 2).join(' ')}\n`);
    const err = await refusal(openSshDocker(rd.dockerHost, { ...base, knownHostsFile: file }));
    expect(err.kind).toBe('changed-host-key');
    expect(err.message).toMatch(/CHANGED.*attack/s);
    expect(err.message).toContain(rd.hostKeyFingerprint);

    // Known only with a key type the host no longer offers (its ed25519 key is all it has now).
    const rsa = path.join(tmp, 'old_rsa_host_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', rsa]);
    fs.writeFileSync(file, `${rd.host} ${fs.readFileSync(`${rsa}.pub`, 'utf8').split(/\s+/).slice(0, 2).join(' ')}\n`);
    const noSuchType = await refusal(openSshDocker(rd.dockerHost, { ...base, knownHostsFile: file }));
    expect(noSuchType.kind).toBe('changed-host-key');
    expect(noSuchType.message).toContain('knows only rsa-sha2-512, rsa-sha2-256, ssh-rsa keys for it');
  });

  it('refuses a client key the host does not accept, naming user, host and the keys tried', async () => {
    const wrong = path.join(tmp, 'wrong_client_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', wrong]);
    const fp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${wrong}.pub`]).toString().split(/\s+/)[1];
    const err = await refusal(openSshDocker(rd.dockerHost, { ...base, identityFile: wrong }));
    expect(err.kind).toBe('auth');
    expect(err.message).toContain(`${rd.host} refused SSH login as ${rd.user}`);
    expect(err.message).toContain(wrong);
    expect(err.message).toContain(fp);
    // With no key given and none in ~/.ssh and no agent: said before connecting.
    const none = await refusal(openSshDocker(rd.dockerHost, { knownHostsFile: rd.knownHostsFile, env: { HOME: tmp } }));
    expect(none.kind).toBe('no-keys');
    expect(none.message).toContain('id_ed25519');
  });

  it('refuses an unreachable host quickly: a closed port, and an address in the /30 where nobody answers', async () => {
    const t0 = Date.now();
    const closed = await refusal(openSshDocker(`ssh://${rd.user}@${rd.host}:${rd.port + 1}`, base));
    expect(closed.kind).toBe('unreachable');
    expect(closed.message).toContain('connection refused');
    expect(Date.now() - t0).toBeLessThan(2000);
    // The /30's network address: no host owns it (no ARP answer).
    const parts = rd.host.split('.');
    const nobody = `${parts.slice(0, 3).join('.')}.${Number(parts[3]) - 2}`;
    const t1 = Date.now();
    const silent = await refusal(openSshDocker(`ssh://${rd.user}@${nobody}`, { ...base, connectTimeoutMs: 2000 }));
    expect(silent.kind).toBe('unreachable');
    expect(silent.message).toMatch(new RegExp(`cannot reach ${nobody.replace(/\./g, '\\.')} port 22 over SSH: (no answer within 2 s|no route to the host)`));
    expect(Date.now() - t1).toBeLessThan(5000);
  });

  it('refuses a host without docker (dial-stdio exits 127) with what to do', async () => {
    const err = await refusal(openSshDocker(rd.dockerHost, { ...base, remoteDocker: '/nonexistent/docker' }));
    expect(err.kind).toBe('no-docker');
    expect(err.message).toContain(`no Docker on ${rd.host}`);
    expect(err.message).toContain('exit 127');
    expect(err.message).toContain('Install Docker');
  });
});
