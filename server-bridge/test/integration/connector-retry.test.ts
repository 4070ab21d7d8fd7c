// Retries of transient failures against real servers: an HTTP server that drops the first
// requests mid-body, answers 503 or is not there; OpenSSH's sshd whose session is killed
// mid-transfer, or that goes away; and what is never retried (wrong password, missing
// file). The final error says how many attempts and the last cause.
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { CommandLineTool, FileOrDirectory, FileRecord } from '../../../src/red';
import { HostPolicy } from '../../src/connectors/host-policy';
import { defaultConnectors } from '../../src/connectors/registry';
import type { ConnectorContext, TransferProgress } from '../../src/connectors/types';
import { listInputItems, stageInputs } from '../../src/engine/staging';
import { freePort, startTestServer, type TestServer } from '../helpers/http-server';
import { sftpServerUnavailable, startSftpServer, type SftpServer } from '../helpers/sftp-server';
import { startVsftpd, type FtpTestServer } from '../helpers/vsftpd';

const MiB = 1024 * 1024;
let tmp: string;
let n = 0;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-retry-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

const cli = (): CommandLineTool => ({ cwlVersion: 'v1.0', class: 'CommandLineTool', baseCommand: 'true', inputs: { x: { type: 'File', inputBinding: { position: 0 } } }, outputs: {} }) as CommandLineTool;

interface Staging {
  notes: string[];
  progress: TransferProgress[];
  result: Promise<{ records: Record<string, FileRecord | FileRecord[]> }>;
}

/** Stages input x with fast retries (`attempts` in all); `onProgress` sees each count. */
function stage(value: FileOrDirectory, attempts: number, opts: { sshKnownHostsFile?: string; onProgress?: (p: TransferProgress) => void } = {}): Staging {
  const notes: string[] = [];
  const progress: TransferProgress[] = [];
  const registry = defaultConnectors({ hostPolicy: new HostPolicy({ allow: ['127.0.0.1'] }), sshKnownHostsFile: opts.sshKnownHostsFile });
  const ctx: ConnectorContext = {
    baseDir: tmp,
    allowedRoots: [tmp],
    onInfo: m => notes.push(m),
    onProgress: p => {
      progress.push(p);
      opts.onProgress?.(p);
    },
    retry: { attempts, baseDelayMs: 20, maxDelayMs: 50 }
  };
  const result = stageInputs({ items: listInputItems(cli(), { x: value }), inputsDir: path.join(tmp, `in-${++n}`), registry, ctx });
  return { notes, progress, result };
}

const failure = (p: Promise<unknown>): Promise<Error> =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: Error) => e
  );
const recordOf = async (s: Staging) => (await s.result).records.x as FileRecord;

/** The ids of `pid`'s descendants (ps prints nothing and fails when there are none). */
function descendants(pid: string): string[] {
  let children: string[];
  try {
    children = execFileSync('ps', ['-o', 'pid=', '--ppid', pid]).toString().split(/\s+/).filter(Boolean);
  } catch {
    children = [];
  }
  return children.flatMap(c => [c, ...descendants(c)]);
}

/** Kills, by their ids, the processes below a server we started (its sessions); returns how many. */
function killDescendants(pid: string): number {
  const pids = descendants(pid);
  for (const p of pids) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      // gone already
    }
  }
  return pids.length;
}

describe('red-connector-http retries', () => {
  let server: TestServer;
  const data = randomBytes(2 * MiB);
  const opts = { files: { '/f.bin': data, '/down.bin': data }, status: { '/busy': 503 }, auth: undefined, dropFirst: {} as Record<string, number> };
  beforeAll(async () => {
    server = await startTestServer(opts);
  });
  afterAll(() => server.close());
  const gets = (p: string) => server.requests.filter(r => r.method === 'GET' && r.url === p).length;
  const file = (url: string): FileOrDirectory => ({ class: 'File', connector: { command: 'red-connector-http', access: { url } } }) as FileOrDirectory;

  it('a download dropped mid-body twice is tried again, and the third try succeeds', async () => {
    opts.dropFirst['/f.bin'] = 2;
    const s = stage(file(`${server.url}/f.bin`), 4);
    const rec = await recordOf(s);
    expect(gets('/f.bin')).toBe(3);
    expect(fs.readFileSync(rec.path).equals(data)).toBe(true);
    const retries = s.notes.filter(m => /trying again in \d+\.\d s/.test(m));
    expect(retries).toHaveLength(2);
    expect(retries[0]).toMatch(/^input x: download of http:\/\/127\.0\.0\.1:\d+\/f\.bin broke off after \d+ bytes: .*; trying again in \d\.\d s \(attempt 2 of 4\)$/);
    // the bytes of the broken tries are not counted in the progress: it ends at the file's size
    expect(s.progress[s.progress.length - 1]).toEqual({ direction: 'input', name: 'x', bytes: data.length, total: data.length, done: true });
  });

  it('gives up after the attempts, saying how many and the last cause', async () => {
    opts.dropFirst['/down.bin'] = 100;
    try {
      const err = await failure(stage(file(`${server.url}/down.bin`), 3).result);
      expect(gets('/down.bin')).toBe(3);
      expect(err.message).toMatch(/^input x: download of http:\/\/127\.0\.0\.1:\d+\/down\.bin broke off .* \(gave up after 3 attempts; this was the last one's error\)$/);
    } finally {
      opts.dropFirst['/down.bin'] = 0;
    }
  });

  it('HTTP 503 is tried again; the final error keeps the status and its hint', async () => {
    const err = await failure(stage(file(`${server.url}/busy`), 3).result);
    expect(gets('/busy')).toBe(3);
    expect(err.message).toMatch(/^input x: GET http:\/\/127\.0\.0\.1:\d+\/busy answered HTTP 503 Service Unavailable; the server failed; try again later or ask its owner \(gave up after 3 attempts/);
  });

  it('a refused connection is tried again', async () => {
    const port = await freePort();
    const s = stage(file(`http://127.0.0.1:${port}/x`), 2);
    const err = await failure(s.result);
    expect(err.message).toMatch(/^input x: GET http:\/\/127\.0\.0\.1:\d+\/x: connection refused .*\(gave up after 2 attempts/);
    expect(s.notes.filter(m => m.includes('trying again'))).toHaveLength(1);
  });

  it('a missing file (404) is not tried again', async () => {
    const s = stage(file(`${server.url}/nothing`), 4);
    const err = await failure(s.result);
    expect(gets('/nothing')).toBe(1);
    expect(err.message).not.toContain('gave up');
    expect(s.notes.filter(m => m.includes('trying again'))).toEqual([]);
  });

  it('a refused login (401) is not tried again', async () => {
    const locked = await startTestServer({ files: { '/f': 'x' }, auth: { username: 'u', password: 'right', method: 'basic' } });
    try {
      const value = { class: 'File', connector: { command: 'red-connector-http', access: { url: `${locked.url}/f`, auth: { username: 'u', password: 'wrong' } } } } as FileOrDirectory;
      const err = await failure(stage(value, 4).result);
      expect(locked.requests.filter(r => r.method === 'GET')).toHaveLength(1);
      expect(err.message).toMatch(/answered HTTP 401 .*check username and password/);
      expect(err.message).not.toContain('gave up');
    } finally {
      await locked.close();
    }
  });
});

const sftpSkip = sftpServerUnavailable();
(sftpSkip ? describe.skip : describe)('red-connector-ssh retries (a real sshd)', () => {
  let srv: SftpServer;
  const data = randomBytes(48 * MiB);
  beforeAll(async () => {
    srv = await startSftpServer();
    fs.writeFileSync(path.join(srv.home, 'big.bin'), data);
  }, 30_000);
  afterAll(() => srv?.stop());
  const file = (password = srv.password): FileOrDirectory =>
    ({ class: 'File', connector: { command: 'red-connector-ssh', access: { host: srv.host, port: srv.port, auth: { username: srv.user, password }, filePath: 'big.bin' } } }) as FileOrDirectory;

  /** Kills sshd's per-connection processes (the privileged monitor and the session process below it): the transfer's connection drops, the listener stays. */
  const killSessions = () => killDescendants(fs.readFileSync(path.join(path.dirname(srv.sshdLog), 'sshd.pid'), 'utf8').trim());

  it('a session killed mid-transfer is tried again on a new connection and the file arrives whole', async () => {
    let killed = 0;
    const s = stage(file(), 3, {
      sshKnownHostsFile: srv.knownHostsFile,
      onProgress: p => {
        if (!killed && p.bytes > 0 && !p.done) killed = killSessions();
      }
    });
    const rec = await recordOf(s);
    expect(killed).toBeGreaterThan(0);
    expect(s.notes.filter(m => m.includes('trying again'))).toHaveLength(1);
    expect(s.notes.join('\n')).toMatch(/input x \(red-connector-ssh\): download of big\.bin failed: .*; trying again/);
    expect(fs.readFileSync(rec.path).equals(data)).toBe(true);
  }, 60_000);

  it('a wrong password is not tried again', async () => {
    const s = stage(file('wrong'), 4, { sshKnownHostsFile: srv.knownHostsFile });
    const err = await failure(s.result);
    expect(err.message).toMatch(/refused SSH login as/);
    expect(err.message).not.toContain('gave up');
    expect(s.notes.filter(m => m.includes('trying again'))).toEqual([]);
  }, 30_000);

  it('a server that goes away mid-transfer fails after the attempts, with the last cause', async () => {
    let stopping: Promise<void> | undefined;
    const s = stage(file(), 2, {
      sshKnownHostsFile: srv.knownHostsFile,
      onProgress: p => {
        if (!stopping && p.bytes > 0) {
          killSessions();
          stopping = srv.stop();
        }
      }
    });
    const err = await failure(s.result);
    await stopping;
    expect(err.message).toMatch(/^input x \(red-connector-ssh\): cannot reach .* connection refused .*\(gave up after 2 attempts; this was the last one's error\)$/s);
  }, 60_000);
});

const ftpSkip = process.getuid?.() !== 0 || !fs.existsSync('/usr/sbin/vsftpd') ? 'needs root and vsftpd' : undefined;
(ftpSkip ? describe.skip : describe)('red-connector-ftp retries (vsftpd)', () => {
  let server: FtpTestServer;
  const big = randomBytes(64 * MiB);
  beforeAll(async () => {
    server = await startVsftpd({ 'f.txt': 'x\n', 'big.bin': big });
  }, 30_000);
  afterAll(() => server?.stop());

  it('a session killed mid-transfer is tried again and the file arrives whole', async () => {
    const value = { class: 'File', connector: { command: 'red-connector-ftp', access: { url: server.url('big.bin'), auth: { username: server.username, password: server.password } } } } as FileOrDirectory;
    const s = stage(value, 3);
    // Kill the session once the download has begun (its .part file has bytes).
    let killed = 0;
    const watch = setInterval(() => {
      if (killed) return;
      const part = (fs.readdirSync(tmp, { recursive: true }) as string[]).find(f => f.endsWith('.part'));
      if (part && (fs.statSync(path.join(tmp, part), { throwIfNoEntry: false })?.size ?? 0) > 0) killed = killDescendants(String(server.pid));
    }, 2);
    const rec = await recordOf(s).finally(() => clearInterval(watch));
    expect(killed).toBeGreaterThan(0);
    expect(s.notes.filter(m => m.includes('trying again'))).toHaveLength(1);
    expect(s.notes.join('\n')).toMatch(/^input x: red-connector-ftp ftp:\/\/127\.0\.0\.1:\d+\/big\.bin: download of big\.bin: .*; trying again in \d+\.\d s \(attempt 2 of 3\)$/m);
    expect(fs.readFileSync(rec.path).equals(big)).toBe(true);
  }, 60_000);

  it('a refused login (530) fails at once', async () => {
    const value = { class: 'File', connector: { command: 'red-connector-ftp', access: { url: server.url('f.txt'), auth: { username: server.username, password: 'wrong' } } } } as FileOrDirectory;
    const s = stage(value, 4);
    const err = await failure(s.result);
    expect(err.message).toMatch(/login refused/);
    expect(err.message).not.toContain('gave up');
    expect(s.notes.filter(m => m.includes('trying again'))).toEqual([]);
  }, 30_000);
});
