// The Curious Containers CNN example (issue 11's "done when"): the RED 8 file of CC's
// machine-learning guide, upgraded to RED 9 (fixtures/cnn/cnn-training.red.json: redVersion
// "9", its host pointed at a local sshd, its image a local stand-in that reads every file of
// the mounted data folder and writes weights.h5, no GPU, no CC agency), run by `redlab run`
// (the built binary, real Docker, a real sshd): both batches mount the SSH data folder
// read-only and the SSH log folder writable with sshfs on the host, and send the weights
// over SFTP. The logs and weights land on the server; no mount is left behind.
import { execFileSync } from 'child_process';
import { createHash, randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MASK } from '../../../src/red';
import { mountUnavailable, readMountInfo } from '../../src/connectors/mounts';
import { PYTHON } from '../helpers/red';
import { runRedlab } from '../helpers/redlab-cli';
import { sftpServerUnavailable, startSftpServer, type SftpServer } from '../helpers/sftp-server';

const skip = sftpServerUnavailable() ?? mountUnavailable('sshfs');
const d = skip ? describe.skip : describe;
if (skip) console.warn(`CNN example skipped: ${skip}`);

const FIXTURES = path.join(__dirname, 'fixtures', 'cnn');
const IMAGE = 'redlab/cnn-training:test';

let srv: SftpServer;
let tmp: string;
/** The tiles on the server, by path relative to PCAM_extracted. */
const tiles = new Map<string, Buffer>();

beforeAll(async () => {
  if (skip) return;
  execFileSync('docker', ['build', '-q', '--build-arg', `BASE=${PYTHON}`, '-t', IMAGE, path.join(FIXTURES, 'image')], { stdio: 'pipe' });
  srv = await startSftpServer();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-cnn-'));
  for (const split of ['train', 'valid', 'test']) {
    for (const kind of ['x', 'y']) tiles.set(`${split}/camelyonpatch_level_2_split_${split}_${kind}.h5`, randomBytes(3000 + tiles.size * 101));
  }
  tiles.set('README.md', Buffer.from('PCAM, extracted\n'));
  for (const [rel, data] of tiles) {
    fs.mkdirSync(path.join(srv.home, 'PCAM_extracted', path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(srv.home, 'PCAM_extracted', rel), data);
  }
  // The log folder the example mounts writable belongs to the SSH user, as on the lab server.
  fs.mkdirSync(path.join(srv.home, 'cnn-training/log'), { recursive: true });
  execFileSync('chown', ['-R', `${srv.user}:`, path.join(srv.home, 'cnn-training')]);
}, 180_000);
afterAll(async () => {
  await srv?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  if (!skip) execFileSync('docker', ['image', 'rm', '-f', IMAGE], { stdio: 'pipe' });
});

/** What cnn-training.py reports for the tiles: sha256 over each sorted relative path, a NUL and its bytes. */
function tilesDigest(): { files: number; bytes: number; sha256: string } {
  const h = createHash('sha256');
  let bytes = 0;
  for (const rel of [...tiles.keys()].sort()) {
    h.update(Buffer.concat([Buffer.from(rel), Buffer.from([0]), tiles.get(rel)!]));
    bytes += tiles.get(rel)!.length;
  }
  return { files: tiles.size, bytes, sha256: h.digest('hex') };
}

d('the CNN example of Curious Containers, upgraded to RED 9', () => {
  it('runs both batches with the mounted SSH data, the writable mounted SSH log folder and the weights sent over SFTP', async () => {
    const red = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'cnn-training.red.json'), 'utf8'));
    // The fixture names port 2222; the test's sshd listens where it could.
    const text = JSON.stringify(red).replace(/"port":2222/g, `"port":${srv.port}`);
    expect(text).not.toContain('2222');
    const file = path.join(tmp, 'cnn-training.red.json');
    fs.writeFileSync(file, text);
    const workRoot = path.join(tmp, 'work');
    const r = await runRedlab(
      ['run', file, '--non-interactive', '--json', '--outdir', path.join(tmp, 'outputs'), '--work-root', workRoot, '--allow-connector-host', '127.0.0.1', '--ssh-known-hosts', srv.knownHostsFile],
      { cwd: tmp, env: { REDLAB_VAR_ssh_username: srv.user, REDLAB_VAR_ssh_password: srv.password } }
    );
    expect(r.stdout + r.stderr).not.toContain(srv.password);
    const result = JSON.parse(r.stdout);
    expect({ code: r.code, state: result.state, error: result.error }).toEqual({ code: 0, state: 'succeeded', error: undefined });
    expect(result.batches).toHaveLength(2);
    expect(r.stderr).toMatch(/mounted sftp:\/\/.*PCAM_extracted read-only \(sshfs\)/);
    expect(r.stderr).toMatch(/mounted sftp:\/\/.*cnn-training\/log read-write \(sshfs\)/);

    const want = tilesDigest();
    for (const [i, lr] of [
      [0, 0.0001],
      [1, 0.0005]
    ] as const) {
      // The weights went over SFTP, computed from every byte of the mounted tiles.
      const weights = fs.readFileSync(path.join(srv.home, `cnn-training/weights/weights_${i}.h5`), 'utf8');
      expect(weights).toBe(`files ${want.files}\nbytes ${want.bytes}\nsha256 ${want.sha256}\nlearning_rate ${lr}\n`);
      // The user name came from a {{variable}}: masked in the record, as every variable's value.
      expect(result.batches[i].outputs.weights_file).toMatchObject({ path: `sftp://${MASK}@127.0.0.1:${srv.port}/~/cnn-training/weights/weights_${i}.h5`, connector: 'red-connector-ssh' });
      // The log was written by the container into the writable mount: it is on the server.
      const log = fs.readFileSync(path.join(srv.home, `cnn-training/log/training_${i}.log`), 'utf8');
      expect(log).toContain(`read ${want.files} files, ${want.bytes} bytes`);
      expect(log).toContain(`epoch 5/5: lr ${lr}, steps 10`);
    }
    // The data folder was mounted read-only: the training could not have changed it.
    expect(fs.readdirSync(path.join(srv.home, 'PCAM_extracted')).sort()).toEqual(['README.md', 'test', 'train', 'valid']);
    expect(readMountInfo().filter(m => m.mountPoint.startsWith(workRoot + '/'))).toEqual([]);
  }, 240_000);
});
