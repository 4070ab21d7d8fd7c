// red-connector-ssh against a real OpenSSH sshd on loopback (helpers/sftp-server): inputs
// through the normal staging path (checksum, listing), outputs read back from the server's
// files, password and key login, and the failures a user meets, each worded with what to check.
import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import type { FileOrDirectory } from '../../../src/red/types';
import { HostPolicy } from '../../src/connectors/host-policy';
import { defaultConnectors } from '../../src/connectors/registry';
import type { ConnectorContext } from '../../src/connectors/types';
import { listInputItems, stageInputs } from '../../src/engine/staging';
import { freePort } from '../helpers/http-server';
import { sftpServerUnavailable, startSftpServer, type SftpServer } from '../helpers/sftp-server';

const skip = sftpServerUnavailable();
const d = skip ? describe.skip : describe;
if (skip) console.warn(`sftp-connector tests skipped: ${skip}`);

let srv: SftpServer;
let tmp: string;
const sha = (algo: string, b: string | Buffer) => createHash(algo).update(b).digest('hex');
const BIG = Buffer.alloc(3 * 1024 * 1024 + 17, 'redlab-sftp '); // more than one fastGet chunk round

beforeAll(async () => {
  if (skip) return;
  srv = await startSftpServer();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-sftp-test-'));
  // The server's data (written as root, readable by the SFTP user).
  fs.mkdirSync(path.join(srv.home, 'data/sub'), { recursive: true });
  fs.writeFileSync(path.join(srv.home, 'data/a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(srv.home, 'data/sub/big.bin'), BIG);
  fs.symlinkSync('a.txt', path.join(srv.home, 'data/link-in.txt'));
  fs.mkdirSync(path.join(srv.home, 'escape'));
  fs.writeFileSync(path.join(srv.home, 'escape/x.txt'), 'x\n');
  fs.symlinkSync('/etc/hostname', path.join(srv.home, 'escape/out'));
}, 30_000);
afterAll(async () => {
  await srv?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const registry = (knownHostsFile = srv.knownHostsFile, allow = ['127.0.0.1']) => defaultConnectors({ hostPolicy: new HostPolicy({ allow }), sshKnownHostsFile: knownHostsFile });
// One try: these tests are about each failure's words (retries: connector-retry.test.ts).
const ctx = (): ConnectorContext => ({ baseDir: tmp, allowedRoots: [tmp], retry: { attempts: 1 } });
const pw = () => ({ username: srv.user, password: srv.password });
const key = () => ({ username: srv.user, privateKey: srv.privateKey });
const access = (extra: Record<string, unknown>, auth: Record<string, unknown> = pw()) => ({ host: srv.host, port: srv.port, auth, ...extra });
const cli = (type: string) => ({ cwlVersion: 'v1.0' as const, class: 'CommandLineTool' as const, baseCommand: 'true', inputs: { x: { type, inputBinding: { position: 0 } } }, outputs: {} });
let n = 0;
const stage = (value: FileOrDirectory, reg = registry()) =>
  stageInputs({ items: listInputItems(cli(value.class), { x: value }), inputsDir: path.join(tmp, `in-${++n}`), registry: reg, ctx: ctx() });
const file = (extra: Record<string, unknown>, more: Partial<FileOrDirectory> = {}, auth?: Record<string, unknown>): FileOrDirectory =>
  ({ class: 'File', connector: { command: 'red-connector-ssh', access: access(extra, auth) }, ...more }) as FileOrDirectory;

d('red-connector-ssh against a real sshd', () => {
  it('receives a file (password) and a folder (key) through staging, checking checksum, size and listing', async () => {
    const f = await stage(file({ filePath: 'data/sub/big.bin' }, { checksum: `sha1$${sha('sha1', BIG)}`, size: BIG.length }));
    const rec = f.records.x as { path: string; sha256: string; size: number };
    expect(rec.sha256).toBe(sha('sha256', BIG));
    expect(fs.readFileSync(rec.path).equals(BIG)).toBe(true);

    const listing = [
      { class: 'File', basename: 'a.txt', checksum: `sha1$${sha('sha1', 'alpha\n')}` },
      { class: 'File', basename: 'link-in.txt', size: 6 },
      { class: 'Directory', basename: 'sub', listing: [{ class: 'File', basename: 'big.bin', size: BIG.length }] }
    ];
    const dir = await stage({ class: 'Directory', connector: { command: 'red-connector-ssh', access: access({ dirPath: `${srv.home}/data` }, key()) }, listing } as FileOrDirectory);
    const got = (dir.records.x as { path: string }).path;
    expect(fs.readFileSync(path.join(got, 'a.txt'), 'utf8')).toBe('alpha\n');
    // A link to a file inside dirPath arrives as a plain file.
    expect(fs.lstatSync(path.join(got, 'link-in.txt')).isFile()).toBe(true);
    expect(fs.readFileSync(path.join(got, 'sub/big.bin')).equals(BIG)).toBe(true);

    // Both logins really happened, each its own way.
    const log = fs.readFileSync(srv.sshdLog, 'utf8');
    expect(log).toContain(`Accepted password for ${srv.user}`);
    expect(log).toContain(`Accepted publickey for ${srv.user}`);

    // The listing is checked on what arrived.
    await expect(
      stage({ class: 'Directory', connector: { command: 'red-connector-ssh', access: access({ dirPath: 'data' }) }, listing: [{ class: 'File', basename: 'nope.txt' }] } as FileOrDirectory)
    ).rejects.toThrow('input x: the listing names nope.txt, but it is not in');
  }, 60_000);

  it('logs in with a passphrase-protected key; a wrong or missing passphrase is named, the key never quoted', async () => {
    const keyFile = path.join(tmp, 'enc_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'open sesame', '-C', 'enc', '-f', keyFile]);
    srv.authorize(fs.readFileSync(`${keyFile}.pub`, 'utf8'));
    const privateKey = fs.readFileSync(keyFile, 'utf8');
    const ok = await stage(file({ filePath: 'data/a.txt' }, {}, { username: srv.user, privateKey, passphrase: 'open sesame' }));
    expect(fs.readFileSync((ok.records.x as { path: string }).path, 'utf8')).toBe('alpha\n');
    for (const passphrase of ['wrong', undefined]) {
      const err = (await stage(file({ filePath: 'data/a.txt' }, {}, { username: srv.user, privateKey, ...(passphrase ? { passphrase } : {}) })).catch(e => e)) as Error;
      expect(err.message).toBe('input x (red-connector-ssh): access.auth.privateKey is encrypted and the passphrase is missing or wrong: check access.auth.passphrase');
    }
  }, 30_000);

  it('a checksum mismatch fails through the normal staging path', async () => {
    await expect(stage(file({ filePath: 'data/a.txt' }, { checksum: `sha1$${'0'.repeat(40)}` }))).rejects.toThrow(
      `input x: checksum mismatch: the RED says sha1$${'0'.repeat(40)}, the data has sha1$${sha('sha1', 'alpha\n')}`
    );
  });

  it('sends a file (creating its folders) and a folder; they are on the server', async () => {
    const out = path.join(tmp, 'out');
    fs.mkdirSync(path.join(out, 'res/deep'), { recursive: true });
    fs.writeFileSync(path.join(out, 'weights.bin'), BIG);
    fs.writeFileSync(path.join(out, 'res/log.txt'), 'log\n');
    fs.writeFileSync(path.join(out, 'res/deep/z.txt'), 'z\n');
    const output = registry().output('red-connector-ssh', 'weights', 'File');
    const sentFile = await output.send({ key: 'weights', class: 'File', hostPath: path.join(out, 'weights.bin'), access: access({ filePath: 'results/run1/weights.bin' }, key()) }, ctx());
    expect(sentFile.target).toBe(`sftp://${srv.user}@127.0.0.1:${srv.port}/~/results/run1/weights.bin`);
    expect(fs.readFileSync(path.join(srv.home, 'results/run1/weights.bin')).equals(BIG)).toBe(true);
    const sentDir = await output.send({ key: 'logs', class: 'Directory', hostPath: path.join(out, 'res'), access: access({ dirPath: `${srv.home}/results/logs` }) }, ctx());
    expect(sentDir.target).toBe(`sftp://${srv.user}@127.0.0.1:${srv.port}${srv.home}/results/logs`);
    expect(fs.readFileSync(path.join(srv.home, 'results/logs/log.txt'), 'utf8')).toBe('log\n');
    expect(fs.readFileSync(path.join(srv.home, 'results/logs/deep/z.txt'), 'utf8')).toBe('z\n');
  }, 60_000);

  // Throughput (bench/connectors.js): 32 KiB requests made a 1 GB download ~0.55 of scp's speed
  // (JS work per request); OpenSSH serves up to 256 KiB per request.
  it('moves a file in SFTP requests of up to 254 KiB each way, not 32 KiB', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { SFTP } = require('ssh2/lib/protocol/SFTP') as { SFTP: { prototype: { read: unknown; write: unknown } } };
    const reads = jest.spyOn(SFTP.prototype as { read: () => void }, 'read');
    const writes = jest.spyOn(SFTP.prototype as { write: () => void }, 'write');
    const requests = Math.ceil(BIG.length / (254 * 1024));
    try {
      const f = await stage(file({ filePath: 'data/sub/big.bin' }, { size: BIG.length }, key()));
      expect(fs.readFileSync((f.records.x as { path: string }).path).equals(BIG)).toBe(true);
      expect(reads.mock.calls.length).toBe(requests);
      const sent = path.join(tmp, 'sent.bin');
      fs.writeFileSync(sent, BIG);
      await registry().output('red-connector-ssh', 'w', 'File').send({ key: 'w', class: 'File', hostPath: sent, access: access({ filePath: 'results/sent.bin' }, key()) }, ctx());
      expect(fs.readFileSync(path.join(srv.home, 'results/sent.bin')).equals(BIG)).toBe(true);
      expect(writes.mock.calls.length).toBe(requests);
    } finally {
      reads.mockRestore();
      writes.mockRestore();
    }
  }, 60_000);

  it('refuses with what to check: wrong password, unknown or changed host key, missing file, link out of dirPath, loopback, timeout, cancel, nothing listening', async () => {
    const wrong = 'not-the-password-42';
    const err = (await stage(file({ filePath: 'data/a.txt' }, {}, { username: srv.user, password: wrong })).catch(e => e)) as Error;
    expect(err.message).toBe(`input x (red-connector-ssh): 127.0.0.1 refused SSH login as ${srv.user} (port ${srv.port}); check access.auth.username and access.auth.password`);
    expect(err.message).not.toContain(wrong);

    const emptyKnown = path.join(tmp, 'empty_known_hosts');
    fs.writeFileSync(emptyKnown, '');
    await expect(stage(file({ filePath: 'data/a.txt' }), registry(emptyKnown))).rejects.toThrow(
      `input x (red-connector-ssh): the SSH host key of 127.0.0.1 port ${srv.port} is not known: ${emptyKnown} has no entry for [127.0.0.1]:${srv.port}; the host presents the ssh-ed25519 key ${srv.hostKeyFingerprint}. ` +
        `Check this fingerprint with the host's administrator, then trust it: ssh-keyscan -p ${srv.port} 127.0.0.1 >> ${emptyKnown}`
    );

    // A known_hosts that holds another key for this host: the key CHANGED, refused.
    const otherKey = path.join(tmp, 'other_host_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    const changedKnown = path.join(tmp, 'changed_known_hosts');
    fs.writeFileSync(changedKnown, `[127.0.0.1]:${srv.port} ${fs.readFileSync(`${otherKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    await expect(stage(file({ filePath: 'data/a.txt' }), registry(changedKnown))).rejects.toThrow(
      new RegExp(`^input x \\(red-connector-ssh\\): the SSH host key of 127\\.0\\.0\\.1 port ${srv.port} has CHANGED: .* but the host now presents ${srv.hostKeyFingerprint.replace(/[+/]/g, '\\$&')}\\. Refused`)
    );

    await expect(stage(file({ filePath: 'data/missing.txt' }))).rejects.toThrow(
      'input x (red-connector-ssh): data/missing.txt on 127.0.0.1: no such file or folder on the server; check access.filePath'
    );
    await expect(stage({ class: 'Directory', connector: { command: 'red-connector-ssh', access: access({ dirPath: 'escape' }) } } as FileOrDirectory)).rejects.toThrow(
      `input x (red-connector-ssh): out in dirPath is a link to /etc/hostname, outside dirPath (${srv.home}/escape); links are not followed out of dirPath`
    );
    await expect(stage(file({ filePath: 'data/a.txt' }), registry(srv.knownHostsFile, []))).rejects.toThrow(
      'input x (red-connector-ssh): refused to connect to 127.0.0.1: it is a loopback address (this machine).'
    );
    // A server that accepts the connection and never speaks SSH: access.timeout (seconds) bounds the wait.
    const silent = net.createServer(() => undefined).listen(0, '127.0.0.1');
    await new Promise(r => silent.once('listening', r));
    try {
      await expect(stage(file({ filePath: 'a', port: (silent.address() as net.AddressInfo).port, timeout: 1 }))).rejects.toThrow(
        /^input x \(red-connector-ssh\): cannot reach 127\.0\.0\.1 port \d+ over SSH: no answer within 1 s\..*\(access\.timeout sets how long to wait\)$/
      );
      // Cancelled while it waits: ends at once, saying so.
      const ac = new AbortController();
      const started = Date.now();
      setTimeout(() => ac.abort(), 200);
      const items = listInputItems(cli('File'), { x: file({ filePath: 'a', port: (silent.address() as net.AddressInfo).port, timeout: 30 }) });
      await expect(stageInputs({ items, inputsDir: path.join(tmp, 'cancel'), registry: registry(), ctx: { ...ctx(), signal: ac.signal } })).rejects.toThrow(/^input x: cancelled$/);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      silent.close();
    }
    const closed = await freePort();
    await expect(stage(file({ filePath: 'a', port: closed }))).rejects.toThrow(
      `input x (red-connector-ssh): cannot reach 127.0.0.1 port ${closed} over SSH: connection refused (nothing listens there).`
    );
  }, 60_000);
});
