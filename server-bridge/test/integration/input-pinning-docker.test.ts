// On a real Docker engine: a local input swapped for a symlink to a host file outside
// the allowed roots after it was checked (after staging, before the container is
// created; or inside staging, right after the check on the opened file) still gives
// the container the checked content, and the recorded sha256 is that content's.
import { createHash } from 'crypto';
import { mkdir, rename, symlink, writeFile } from 'fs/promises';
import * as path from 'path';
import { DockerEngine } from '../../src/engine/docker';
import { defaultConnectors } from '../../src/connectors/registry';
import { createLocalInputConnector } from '../../src/connectors/local';
import type { ConnectorContext, InputStageRequest } from '../../src/connectors/types';
import { BUSYBOX, collectEvents, dockerTestFile, request, tempDir } from '../helpers/red';

// Real containers: seconds each, and much longer on a loaded machine than jest's default 5 s.
jest.setTimeout(60_000);

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const { labels } = dockerTestFile();
const INSIDE = 'checked content\n';
const SECRET = 'host secret outside the roots\n';

let dir: string;
let outside: string;
beforeEach(async () => {
  dir = await tempDir('redlab-pin-it-');
  outside = await tempDir('redlab-pin-outside-');
  await mkdir(path.join(dir, 'data', 'sub'), { recursive: true });
  await writeFile(path.join(dir, 'data', 'in.txt'), INSIDE);
  await writeFile(path.join(dir, 'data', 'sub', 'deep.txt'), 'deep\n');
  await writeFile(path.join(outside, 'in.txt'), SECRET);
});

const swapForLink = async (p: string, target: string) => {
  await rename(p, p + '.moved');
  await symlink(target, p);
};

/** `cmd` on one local input `x` (File or Directory), its stdout an output. */
const red = (cls: 'File' | 'Directory', cmd: string[], p: string) => `redVersion: "9"
cli:
  cwlVersion: v1.0
  class: CommandLineTool
  baseCommand: ${JSON.stringify(cmd)}
  inputs:
    x: {type: ${cls}, inputBinding: {position: 1}}
  outputs:
    seen: {type: stdout}
  stdout: seen.txt
inputs:
  x:
    class: ${cls}
    connector: {command: redlab-connector-local, access: {path: "${p}"}}
container:
  engine: docker
  settings:
    image: {url: "${BUSYBOX}"}
    ram: 256
`;

/** A local connector that runs `afterStage` once staging returns (before the container exists), or hooks onChecked. */
function engineWith(opts: { linkMinBytes?: number; afterStage?: () => Promise<void>; onChecked?: ConnectorContext['onChecked'] }): DockerEngine {
  const local = createLocalInputConnector({ linkMinBytes: opts.linkMinBytes });
  const connectors = defaultConnectors().registerInput({
    ...local,
    async stage(req: InputStageRequest, ctx: ConnectorContext) {
      const staged = await local.stage(req, { ...ctx, onChecked: opts.onChecked });
      await opts.afterStage?.();
      return staged;
    }
  });
  return new DockerEngine({ workRoot: path.join(dir, 'work'), connectors, keepWorkDir: 'never' });
}

describe('local inputs swapped for a symlink after the check (real Docker engine)', () => {
  it.each([
    ['copied', Infinity],
    ['hard-linked', 1]
  ])('a File swapped between staging and the container: the container sees the checked bytes (%s)', async (_how, linkMinBytes) => {
    const src = path.join(dir, 'data', 'in.txt');
    const ev = collectEvents();
    const engine = engineWith({ linkMinBytes, afterStage: () => swapForLink(src, path.join(outside, 'in.txt')) });
    const res = await engine.run(request(red('File', ['cat'], 'data/in.txt'), dir, { labels }), { onEvent: ev.onEvent });
    expect(res.error).toBeUndefined();
    expect(res.state).toBe('succeeded');
    expect(ev.logs('stdout')).toBe(INSIDE);
    expect(res.batches[0].inputs.x).toMatchObject({ sha256: sha256(INSIDE), size: INSIDE.length, containerPath: '/cc/inputs/x/x' });
    expect(res.batches[0].outputs.seen).toMatchObject({ sha256: sha256(INSIDE) });
  });

  it('a File swapped right after the check on the opened file: still the checked bytes, and their sha256', async () => {
    const ev = collectEvents();
    const engine = engineWith({ linkMinBytes: 1, onChecked: checked => swapForLink(checked, path.join(outside, 'in.txt')) });
    const res = await engine.run(request(red('File', ['cat'], 'data/in.txt'), dir, { labels }), { onEvent: ev.onEvent });
    expect(res.state).toBe('succeeded');
    expect(ev.logs('stdout')).toBe(INSIDE);
    expect(res.batches[0].inputs.x).toMatchObject({ sha256: sha256(INSIDE), size: INSIDE.length });
  });

  it('a Directory swapped for a symlink to a folder outside the roots: the container sees the checked tree', async () => {
    const ev = collectEvents();
    const engine = engineWith({ afterStage: () => swapForLink(path.join(dir, 'data'), outside) });
    const res = await engine.run(request(red('Directory', ['grep', '-r', ''], 'data'), dir, { labels }), { onEvent: ev.onEvent });
    expect(res.state).toBe('succeeded');
    const seen = ev.logs('stdout').split('\n').filter(Boolean).sort();
    expect(seen).toEqual(['/cc/inputs/x/x/in.txt:checked content', '/cc/inputs/x/x/sub/deep.txt:deep']);
    // The folder hash (sorted `path\0sha256` lines) is of the checked tree.
    const tree = createHash('sha256').update(`in.txt\0${sha256(INSIDE)}\nsub/deep.txt\0${sha256('deep\n')}\n`).digest('hex');
    expect(res.batches[0].inputs.x).toMatchObject({ class: 'Directory', sha256: tree });
  });
});
