// mount: true against real servers and the real Docker engine: a real sshd
// (helpers/sftp-server) mounted with sshfs and a small HTTP server with Apache-like
// index pages mounted with httpdirfs, both on the host by the engine and bound into a
// busybox container, which lists, reads and (writable) writes there. The mount is gone
// after every run, also after a failure, a broken server, and a process killed mid-mount.
import { spawn, spawnSync } from 'child_process';
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HostPolicy } from '../../src/connectors/host-policy';
import { cleanupStaleMounts, mountRefusal, mountUnavailable, readMountInfo } from '../../src/connectors/mounts';
import { defaultConnectors } from '../../src/connectors/registry';
import { DockerEngine } from '../../src/engine/docker';
import { BUSYBOX, collectEvents, removeTempDirs, request, runDirs } from '../helpers/red';
import { startIndexServer } from '../helpers/http-index-server';
import { sftpServerUnavailable, startSftpServer, type SftpServer } from '../helpers/sftp-server';

const skip = sftpServerUnavailable() ?? mountUnavailable('sshfs') ?? mountUnavailable('httpdirfs');
const d = skip ? describe.skip : describe;
if (skip) console.warn(`mount-connectors tests skipped: ${skip}`);

/** The FUSE mounts under `root` now. */
const fuseMountsUnder = (root: string) => readMountInfo().filter(m => m.fsType.startsWith('fuse.') && m.mountPoint.startsWith(root + '/'));

/** A RED whose Directory input `data` comes from `connector` and whose command is `sh -c script`. */
function mountRed(connector: Record<string, unknown>, script: string): string {
  return JSON.stringify({
    redVersion: '9',
    cli: {
      cwlVersion: 'v1.0',
      class: 'CommandLineTool',
      baseCommand: ['sh', '-c'],
      inputs: { script: { type: 'string', inputBinding: { position: 0 } }, data: { type: 'Directory', inputBinding: { position: 1 } } },
      outputs: {}
    },
    inputs: { script, data: { class: 'Directory', connector } },
    outputs: {},
    container: { engine: 'docker', settings: { image: { url: BUSYBOX }, ram: 256 } }
  });
}

let srv: SftpServer;
const labels = { 'org.redlab.test': `mounts-${randomUUID().slice(0, 8)}` };

beforeAll(async () => {
  if (skip) return;
  srv = await startSftpServer();
  fs.mkdirSync(path.join(srv.home, 'tiles/sub'), { recursive: true });
  fs.writeFileSync(path.join(srv.home, 'tiles/a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(srv.home, 'tiles/sub/b.txt'), 'beta\n');
  fs.mkdirSync(path.join(srv.home, 'logs'));
  execChown(srv.user, path.join(srv.home, 'tiles'), path.join(srv.home, 'logs'));
}, 30_000);
afterAll(async () => {
  await srv?.stop();
  await removeTempDirs();
});

function execChown(user: string, ...paths: string[]): void {
  for (const p of paths) spawnSyncOk('chown', ['-R', `${user}:`, p]);
}
function spawnSyncOk(bin: string, args: string[]): void {
  const r = spawnSync(bin, args, { stdio: 'pipe' });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')}: ${r.stderr}`);
}

const connectors = () => defaultConnectors({ hostPolicy: new HostPolicy({ allow: ['127.0.0.1'] }), sshKnownHostsFile: srv.knownHostsFile });
const sshAccess = (extra: Record<string, unknown>, auth: Record<string, unknown> = { username: srv.user, password: srv.password }) => ({ host: srv.host, port: srv.port, auth, ...extra });

async function run(red: string, over: { onLog?: (text: string) => void } = {}) {
  const { dir, workRoot } = await runDirs('redlab-mounts-');
  const ev = collectEvents();
  const engine = new DockerEngine({ connectors: connectors(), workRoot });
  const res = await engine.run(request(red, dir, { labels }), {
    onEvent: e => {
      ev.onEvent(e);
      if (e.type === 'log') over.onLog?.(ev.logs());
    }
  });
  return { res, ev, workRoot, dir, engine };
}

d('mount: true (FUSE on the host, bound into the container)', () => {
  it('mounts an SSH folder read-only: the container lists and reads it, a write is refused, the mount is gone after', async () => {
    const { res, ev, workRoot } = await run(
      mountRed(
        { command: 'red-connector-ssh', mount: true, access: sshAccess({ dirPath: 'tiles' }) },
        'ls -R "$0"; cat "$0/a.txt" "$0/sub/b.txt"; if touch "$0/new.txt" 2>/dev/null; then echo WROTE; else echo WRITE-REFUSED; fi; grep " /cc/inputs/data/data " /proc/mounts'
      )
    );
    expect(res.error).toBeUndefined();
    expect(res.state).toBe('succeeded');
    const out = ev.logs('stdout');
    expect(out).toContain('alpha\nbeta\n');
    expect(out).toMatch(/sub:\s*\nb\.txt/);
    expect(out).toContain('WRITE-REFUSED');
    // The container sees a FUSE mount it did not make (it has no /dev/fuse, no SYS_ADMIN), read-only.
    expect(out).toMatch(/fuse\.sshfs ro[, ]/);
    expect(fs.existsSync(path.join(srv.home, 'tiles/new.txt'))).toBe(false);
    expect(ev.events.some(e => e.type === 'info' && /mounted sftp:\/\/.*tiles read-only \(sshfs\)/.test(e.message))).toBe(true);
    expect(fuseMountsUnder(workRoot)).toEqual([]);
    expect(fs.readFileSync(srv.sshdLog, 'utf8')).toContain(`Accepted password for ${srv.user}`);
  }, 90_000);

  it('mounts an SSH folder writable with a key: what the container writes lands on the server', async () => {
    const { res, workRoot } = await run(
      mountRed(
        { command: 'red-connector-ssh', mount: true, access: sshAccess({ dirPath: `${srv.home}/logs`, writable: true }, { username: srv.user, privateKey: srv.privateKey }) },
        'mkdir -p "$0/epoch-1" && echo "loss 0.5" > "$0/epoch-1/train.log"'
      )
    );
    expect(res.error).toBeUndefined();
    expect(res.state).toBe('succeeded');
    expect(fs.readFileSync(path.join(srv.home, 'logs/epoch-1/train.log'), 'utf8')).toBe('loss 0.5\n');
    expect(fuseMountsUnder(workRoot)).toEqual([]);
  }, 90_000);

  it('unmounts after a failed command too, and a wrong password is refused before any container, saying what to check', async () => {
    const failed = await run(mountRed({ command: 'red-connector-ssh', mount: true, access: sshAccess({ dirPath: 'tiles' }) }, 'cat "$0/a.txt"; exit 3'));
    expect(failed.res.state).toBe('failed');
    expect(failed.res.error).toMatch(/exit(ed)? (code )?3|code 3/);
    expect(failed.ev.logs('stdout')).toContain('alpha');
    expect(fuseMountsUnder(failed.workRoot)).toEqual([]);

    const wrong = await run(mountRed({ command: 'red-connector-ssh', mount: true, access: sshAccess({ dirPath: 'tiles' }, { username: srv.user, password: 'not-the-password' }) }, 'true'));
    expect(wrong.res.state).toBe('failed');
    expect(wrong.res.error).toContain(`refused SSH login as ${srv.user}`);
    expect(wrong.res.error).toContain('access.auth.password');
    expect(wrong.res.error).not.toContain('not-the-password');
    expect(wrong.ev.events.some(e => e.type === 'container')).toBe(false);
    expect(fuseMountsUnder(wrong.workRoot)).toEqual([]);
  }, 90_000);

  it('mounts an HTTP folder (httpdirfs, basic auth) read-only: the container lists and reads it', async () => {
    const auth = { username: 'reader', password: `pw-${randomUUID().slice(0, 8)}` };
    const web = await startIndexServer({ 'data/x.csv': 'a,b\n1,2\n', 'data/deep/y.txt': 'why\n' }, auth);
    try {
      const { res, ev, workRoot } = await run(
        mountRed(
          { command: 'red-connector-http', mount: true, access: { url: `${web.url}/data/`, auth } },
          'ls "$0" "$0/deep"; cat "$0/x.csv" "$0/deep/y.txt"; if touch "$0/z" 2>/dev/null; then echo WROTE; else echo WRITE-REFUSED; fi'
        )
      );
      expect(res.error).toBeUndefined();
      expect(res.state).toBe('succeeded');
      const out = ev.logs('stdout');
      expect(out).toContain('a,b\n1,2\nwhy\n');
      expect(out).toContain('WRITE-REFUSED');
      expect(web.requests.some(r => r.startsWith('GET /data/deep/'))).toBe(true);
      expect(fuseMountsUnder(workRoot)).toEqual([]);

      const wrong = await run(mountRed({ command: 'red-connector-http', mount: true, access: { url: `${web.url}/data/`, auth: { ...auth, password: 'wrong' } } }, 'true'));
      expect(wrong.res.error).toContain(`input data (red-connector-http): ${web.url}/data/ refused the login; check access.auth.username and access.auth.password`);
      expect(fuseMountsUnder(wrong.workRoot)).toEqual([]);
      // The login goes to httpdirfs in a config file, one option a line: a line break cannot smuggle in another option.
      const smuggled = await run(mountRed({ command: 'red-connector-http', mount: true, access: { url: `${web.url}/data/`, auth: { ...auth, password: `${auth.password}\n--insecure-tls` } } }, 'true'));
      expect(smuggled.res.error).toContain('access.auth.username or password contains a line break');
    } finally {
      await web.close();
    }
  }, 90_000);

  it('refuses a host the policy refuses, for a mount as for a download', async () => {
    const { dir, workRoot } = await runDirs('redlab-mounts-');
    // The default policy: loopback refused.
    const engine = new DockerEngine({ connectors: defaultConnectors({ sshKnownHostsFile: srv.knownHostsFile }), workRoot });
    const res = await engine.run(request(mountRed({ command: 'red-connector-ssh', mount: true, access: sshAccess({ dirPath: 'tiles' }) }, 'true'), dir, { labels }), {});
    expect(res.state).toBe('failed');
    expect(res.error).toMatch(/refused to connect to 127\.0\.0\.1.*loopback.*--allow-connector-host/);
    const http2 = await run(mountRed({ command: 'red-connector-http', mount: true, access: { url: 'http://169.254.169.254/latest/' } }, 'true'));
    expect(http2.res.error).toMatch(/refused to connect to 169\.254\.169\.254.*link-local/);
  }, 60_000);

  it('a server that disappears during the run fails the run, saying the mount broke (no hang), and the mount is cleaned', async () => {
    const gone = await startSftpServer();
    fs.mkdirSync(path.join(gone.home, 'tiles'));
    fs.writeFileSync(path.join(gone.home, 'tiles/a.txt'), 'alpha\n');
    try {
      let killed = false;
      const t0 = Date.now();
      const { dir, workRoot } = await runDirs('redlab-mounts-');
      const ev = collectEvents();
      const engine = new DockerEngine({ connectors: defaultConnectors({ hostPolicy: new HostPolicy({ allow: ['127.0.0.1'] }), sshKnownHostsFile: gone.knownHostsFile }), workRoot });
      const red = mountRed(
        { command: 'red-connector-ssh', mount: true, access: { host: gone.host, port: gone.port, auth: { username: gone.user, password: gone.password }, dirPath: 'tiles' } },
        'while true; do cat "$0/a.txt" >/dev/null || { echo READ-FAILED >&2; exit 4; }; echo READ-OK; sleep 0.3; done'
      );
      const res = await engine.run(request(red, dir, { labels }), {
        onEvent: e => {
          ev.onEvent(e);
          if (!killed && e.type === 'log' && e.data.includes('READ-OK')) {
            killed = true;
            killSshd(gone);
          }
        }
      });
      expect(killed).toBe(true);
      expect(res.state).toBe('failed');
      expect(res.error).toMatch(/input data \(red-connector-ssh\): the sshfs mount of sftp:\/\/.*tiles broke during the run/);
      expect(res.error).toContain('exited with 4');
      expect(Date.now() - t0).toBeLessThan(60_000);
      expect(fuseMountsUnder(workRoot)).toEqual([]);
    } finally {
      await gone.stop();
    }
  }, 90_000);

  it('an HTTP server that disappears during the run fails it too, saying the httpdirfs mount broke', async () => {
    const web = await startIndexServer({ 'data/a.txt': 'alpha\n' });
    let closed = false;
    const { dir, workRoot } = await runDirs('redlab-mounts-');
    const res = await new DockerEngine({ connectors: connectors(), workRoot }).run(
      request(
        mountRed(
          { command: 'red-connector-http', mount: true, access: { url: `${web.url}/data/` } },
          'while true; do cat "$0/a.txt" >/dev/null || { echo READ-FAILED >&2; exit 4; }; echo READ-OK; sleep 0.3; done'
        ),
        dir,
        { labels }
      ),
      {
        onEvent: e => {
          if (!closed && e.type === 'log' && e.data.includes('READ-OK')) {
            closed = true;
            void web.close();
          }
        }
      }
    );
    expect(closed).toBe(true);
    expect(res.state).toBe('failed');
    expect(res.error).toMatch(/^input data \(red-connector-http\): the httpdirfs mount of http:\/\/127\.0\.0\.1:\d+\/data\/ broke during the run .*exited with 4/);
    expect(fuseMountsUnder(workRoot)).toEqual([]);
  }, 90_000);

  it('a process killed while it holds a mount leaves it; the next engine start unmounts it, and leaves live processes\' mounts alone', async () => {
    const { dir, workRoot } = await runDirs('redlab-mounts-');
    const stalePoint = path.join(workRoot, 'dead-run', 'batch-0', 'inputs', 'data', 'data');
    const livePoint = path.join(workRoot, 'live-run', 'batch-0', 'inputs', 'data', 'data');
    fs.mkdirSync(path.dirname(stalePoint), { recursive: true, mode: 0o700 });
    fs.chmodSync(workRoot, 0o700);
    const script = `
      const { mountSshfs } = require(${JSON.stringify(path.resolve(__dirname, '../../src/connectors/mounts.ts'))});
      let input = ''; process.stdin.on('data', d => input += d).on('end', async () => {
        const o = JSON.parse(input);
        await mountSshfs(o);
        process.stdout.write('MOUNTED\\n');
        setInterval(() => undefined, 1000);
      });`;
    const child = spawn(process.execPath, ['-r', path.resolve(__dirname, '../helpers/ts-register.js'), '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    const opts = {
      where: 'input data',
      host: srv.host,
      address: '127.0.0.1',
      port: srv.port,
      username: srv.user,
      password: srv.password,
      remoteDir: `${srv.home}/tiles`,
      writable: false,
      knownHostsFile: srv.knownHostsFile,
      knownHostsName: `[127.0.0.1]:${srv.port}`,
      timeoutS: 20
    };
    child.stdin.end(JSON.stringify({ ...opts, dest: stalePoint }));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => b.toString().includes('MOUNTED') && resolve());
      child.once('exit', c => reject(new Error(`the mounting child exited with ${c}`)));
    });
    expect(fuseMountsUnder(workRoot).map(m => m.mountPoint)).toEqual([stalePoint]);
    expect(fs.readFileSync(path.join(stalePoint, 'a.txt'), 'utf8')).toBe('alpha\n');
    // The password went to sshfs on stdin: no process shows it in its command line.
    expect(commandLinesWith(srv.password)).toEqual([]);
    child.kill('SIGKILL');
    await new Promise(r => child.once('exit', r));
    // Killed without cleanup: the mount outlives it.
    expect(fuseMountsUnder(workRoot).map(m => m.mountPoint)).toEqual([stalePoint]);

    // A mount of a live process (this one) under the same work root stays.
    const { mountSshfs } = await import('../../src/connectors/mounts');
    const live = await mountSshfs({ ...opts, dest: livePoint });
    try {
      // The engine's first run cleans the dead process's mount before anything else.
      const ev = collectEvents();
      fs.mkdirSync(path.join(dir, 'in'));
      const res = await new DockerEngine({ connectors: connectors(), workRoot }).run(request(mountRed({ command: 'redlab-connector-local', access: { path: 'in' } }, 'true'), dir, { labels }), { onEvent: ev.onEvent });
      expect(res.error).toBeUndefined();
      expect(ev.events.some(e => e.type === 'info' && e.message.includes(`unmounted 1 mount(s) left by a process that ended: ${stalePoint}`))).toBe(true);
      expect(fuseMountsUnder(workRoot).map(m => m.mountPoint)).toEqual([livePoint]);
      expect(fs.readdirSync(stalePoint)).toEqual([]);
      expect((await cleanupStaleMounts(workRoot)).unmounted).toEqual([]);
    } finally {
      expect(await live.unmount()).toBeUndefined();
    }
    expect(fuseMountsUnder(workRoot)).toEqual([]);
  }, 90_000);

  it('a key (with or without passphrase) is on disk only while sshfs logs in: after the mount its private folder holds only the log', async () => {
    const { dir } = await runDirs('redlab-mounts-');
    const { mountSshfs } = await import('../../src/connectors/mounts');
    const keyFile = path.join(dir, 'pp_key');
    const passphrase = `pp-${randomUUID().slice(0, 8)}`;
    spawnSyncOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', keyFile]);
    srv.authorize(fs.readFileSync(`${keyFile}.pub`, 'utf8'));
    const base = {
      where: 'input data',
      host: srv.host,
      address: '127.0.0.1',
      port: srv.port,
      username: srv.user,
      remoteDir: `${srv.home}/tiles`,
      writable: false,
      knownHostsFile: srv.knownHostsFile,
      knownHostsName: `[127.0.0.1]:${srv.port}`,
      timeoutS: 20
    };
    for (const auth of [{ privateKey: srv.privateKey }, { privateKey: fs.readFileSync(keyFile, 'utf8'), passphrase }]) {
      const dest = path.join(dir, `m-${auth.passphrase ? 'pp' : 'plain'}`, 'data');
      const m = await mountSshfs({ ...base, ...auth, dest });
      try {
        expect(fs.readFileSync(path.join(dest, 'a.txt'), 'utf8')).toBe('alpha\n');
        // Beside the mount point: the mount and its private folder (0700), which holds only the log now.
        const beside = fs.readdirSync(path.dirname(dest)).filter(n => n !== 'data');
        expect(beside).toEqual([expect.stringMatching(/^\.data\.mount-/)]);
        const priv = path.join(path.dirname(dest), beside[0]);
        expect(fs.statSync(priv).mode & 0o777).toBe(0o700);
        expect(fs.readdirSync(priv)).toEqual(['sshfs.log']);
        expect(commandLinesWith(passphrase)).toEqual([]);
      } finally {
        expect(await m.unmount()).toBeUndefined();
      }
      expect(fs.readdirSync(path.dirname(dest))).toEqual(['data']);
    }
    // A wrong passphrase (which red-connector-ssh's SFTP check finds first) is a failed login, said as such, and leaves nothing behind.
    const dest = path.join(dir, 'm-wrong', 'data');
    await expect(mountSshfs({ ...base, privateKey: fs.readFileSync(keyFile, 'utf8'), passphrase: 'wrong', dest })).rejects.toThrow(
      new RegExp(`^input data: (${srv.host} refused the sshfs login|sshfs could not log in to ${srv.host} port ${srv.port}) as ${srv.user}.*; check access.auth.username and access.auth.privateKey / passphrase`)
    );
    expect(fuseMountsUnder(dir)).toEqual([]);
    expect(fs.readdirSync(path.dirname(dest))).toEqual(['data']);
  }, 60_000);

  it('removing a work folder never goes into a mount still there (it would delete the server\'s files)', async () => {
    const { dir } = await runDirs('redlab-mounts-');
    const { mountSshfs } = await import('../../src/connectors/mounts');
    const { removeTree } = await import('../../src/util/safe-fs');
    const dest = path.join(dir, 'batch-0', 'inputs', 'logs', 'logs');
    fs.writeFileSync(path.join(srv.home, 'logs', 'keep.txt'), 'keep\n');
    const m = await mountSshfs({
      where: 'input logs',
      host: srv.host,
      address: '127.0.0.1',
      port: srv.port,
      username: srv.user,
      privateKey: srv.privateKey,
      remoteDir: `${srv.home}/logs`,
      writable: true,
      knownHostsFile: srv.knownHostsFile,
      knownHostsName: `[127.0.0.1]:${srv.port}`,
      timeoutS: 20,
      dest
    });
    try {
      await expect(removeTree(path.join(dir, 'batch-0'))).rejects.toThrow(`${dest} is a mount point (another file system); not removed: unmount it first`);
      expect(fs.readFileSync(path.join(srv.home, 'logs', 'keep.txt'), 'utf8')).toBe('keep\n');
    } finally {
      expect(await m.unmount()).toBeUndefined();
    }
    await removeTree(path.join(dir, 'batch-0'));
    expect(fs.existsSync(path.join(dir, 'batch-0'))).toBe(false);
    expect(fs.readFileSync(path.join(srv.home, 'logs', 'keep.txt'), 'utf8')).toBe('keep\n');
  }, 60_000);

  it('checks the host key against the same known_hosts as downloads: a changed key is refused (by the SFTP check, and by sshfs itself)', async () => {
    const { dir } = await runDirs('redlab-mounts-');
    spawnSyncOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'other')]);
    const wrongKnownHosts = path.join(dir, 'known_hosts');
    fs.writeFileSync(wrongKnownHosts, `[127.0.0.1]:${srv.port} ${fs.readFileSync(path.join(dir, 'other.pub'), 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    const engine = new DockerEngine({ connectors: defaultConnectors({ hostPolicy: new HostPolicy({ allow: ['127.0.0.1'] }), sshKnownHostsFile: wrongKnownHosts }), workRoot: path.join(dir, 'work') });
    const res = await engine.run(request(mountRed({ command: 'red-connector-ssh', mount: true, access: sshAccess({ dirPath: 'tiles' }) }, 'true'), dir, { labels }), {});
    expect(res.state).toBe('failed');
    expect(res.error).toContain('CHANGED');
    expect(res.error).toContain(srv.hostKeyFingerprint);
    // sshfs checks it too (StrictHostKeyChecking=yes against the same file), should the key change between the two.
    const { mountSshfs } = await import('../../src/connectors/mounts');
    await expect(
      mountSshfs({
        where: 'input data',
        host: srv.host,
        address: '127.0.0.1',
        port: srv.port,
        username: srv.user,
        password: srv.password,
        remoteDir: `${srv.home}/tiles`,
        writable: false,
        knownHostsFile: wrongKnownHosts,
        knownHostsName: `[127.0.0.1]:${srv.port}`,
        timeoutS: 20,
        // Blanks and commas in the path (the log beside it is named in sshfs's options).
        // Blanks, a comma and a quote in the path (the log beside it is named in sshfs's options).
        // A comma and a quote in the path (the log beside it is named in sshfs's options).
        dest: path.join(dir, "m,o'k", 'data')
      })
    ).rejects.toThrow(/^input data: sshfs refused 127\.0\.0\.1's host key: it is not the one in .*known_hosts/);
    expect(fuseMountsUnder(dir)).toEqual([]);
  }, 60_000);

  it('reads mount points from mountinfo as the kernel escapes them (spaces, tabs, backslashes)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-mountinfo-'));
    try {
      const file = path.join(dir, 'mountinfo');
      fs.writeFileSync(file, '44 27 0:39 / /work/my\\040runs/a\\011b\\134c ro,nosuid - fuse.sshfs redlab-12-34 ro,user_id=0\n36 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n');
      expect(readMountInfo(file)).toEqual([
        { mountPoint: '/work/my runs/a\tb\\c', fsType: 'fuse.sshfs', source: 'redlab-12-34' },
        { mountPoint: '/', fsType: 'ext4', source: '/dev/sda1' }
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('cancelling the run stops the container and unmounts', async () => {
    const { dir, workRoot } = await runDirs('redlab-mounts-');
    const ac = new AbortController();
    const ev = collectEvents();
    const res = await new DockerEngine({ connectors: connectors(), workRoot }).run(
      request(mountRed({ command: 'red-connector-ssh', mount: true, access: sshAccess({ dirPath: 'tiles' }) }, 'cat "$0/a.txt"; echo STARTED; sleep 60'), dir, { labels }),
      {
        signal: ac.signal,
        onEvent: e => {
          ev.onEvent(e);
          if (e.type === 'log' && e.data.includes('STARTED')) ac.abort();
        }
      }
    );
    expect(ac.signal.aborted).toBe(true);
    expect(res.state).toBe('cancelled');
    expect(fuseMountsUnder(workRoot)).toEqual([]);
  }, 60_000);

  it('refuses before the run where the host cannot mount: a remote engine, sshfs missing; naming the input and the download alternative', async () => {
    const item = { label: 'tiles', value: { class: 'Directory', connector: { command: 'red-connector-ssh', mount: true } } };
    expect(mountRefusal([item], 'docker-ssh (ssh://lab)')).toMatch(
      /^input tiles: mount: true mounts the folder on this host, but the Docker engine docker-ssh \(ssh:\/\/lab\) runs on another machine and cannot see this host's mounts; remove mount: true from inputs\.tiles\.connector to download the folder before the run instead$/
    );
    expect(mountRefusal([item], undefined, { PATH: '/nonexistent' })).toContain('sshfs is not installed (Debian: apt-get install sshfs); remove mount: true');
    expect(mountUnavailable('sshfs', process.env, '/nonexistent/fuse')).toBe(
      'this host cannot mount: /nonexistent/fuse is missing (FUSE is not available here; in a container, run the bridge with --device /dev/fuse --cap-add SYS_ADMIN)'
    );
    // A file that is not a character device is no FUSE device either.
    expect(mountUnavailable('sshfs', process.env, __filename)).toContain(`${__filename} is missing`);
    // Connectors that cannot mount refuse mount: true in their own words (FTP, archives, CC connector images).
    expect(mountRefusal([{ ...item, value: { ...item.value, connector: { command: 'red-connector-ftp', mount: true } } }])).toBeUndefined();
    expect(mountRefusal([{ ...item, value: { class: 'File', connector: { command: 'red-connector-ssh', mount: true } } }])).toContain('input tiles: mount: true is for Directory inputs only');
    expect(mountRefusal([{ ...item, value: { ...item.value, connector: { command: 'red-connector-ssh' } } }])).toBeUndefined();

    // The engines say which connectors they mount (the panel offers mount: true for those only).
    expect(new DockerEngine({ connectors: connectors() }).capabilities.mountConnectors?.sort()).toEqual(['red-connector-http', 'red-connector-ssh']);
    expect(new DockerEngine({ connectors: connectors(), files: 'copy' }).capabilities.mountConnectors).toEqual([]);

    // The remote engine (files copied through the Docker API) fails the run before any pull or container.
    const { dir, workRoot } = await runDirs('redlab-mounts-');
    const ev = collectEvents();
    const res = await new DockerEngine({ connectors: connectors(), workRoot, files: 'copy', name: 'docker-ssh' }).run(
      request(mountRed({ command: 'red-connector-ssh', mount: true, access: sshAccess({ dirPath: 'tiles' }) }, 'true'), dir, { labels }),
      { onEvent: ev.onEvent }
    );
    expect(res.state).toBe('failed');
    expect(res.error).toContain('the Docker engine docker-ssh runs on another machine and cannot see this host\'s mounts; remove mount: true');
    expect(ev.events.some(e => e.type === 'phase' && e.phase === 'pull')).toBe(false);
  }, 60_000);
});

/** The pids whose command line contains `secret`. */
function commandLinesWith(secret: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/cmdline`).includes(secret)) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Kills sshd and every session process under it (the server "disappears"); by pid, only what this test started. */
function killSshd(s: SftpServer): void {
  const pidFile = path.join(path.dirname(s.knownHostsFile), 'sshd.pid');
  const master = Number(fs.readFileSync(pidFile, 'utf8').trim());
  const children = new Map<number, number[]>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const ppid = Number(/^PPid:\s*(\d+)/m.exec(fs.readFileSync(`/proc/${name}/status`, 'utf8'))?.[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      /* gone */
    }
  }
  const all: number[] = [];
  const walk = (pid: number) => {
    all.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(master);
  for (const pid of all.reverse()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
