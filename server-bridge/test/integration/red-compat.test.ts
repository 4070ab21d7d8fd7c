// Compatibility both ways (issue 12): every RED file RED Lab writes passes Curious Containers' own
// validator (cc-core 9.3 with red-val, called as faice calls it: compat-validate.py), and every CWL file
// `redlab convert cwl` writes passes `cwltool --validate`. Over the project's RED fixtures and the Curious
// Containers project's own files (fixtures/compat), the outputs of `redlab convert format|batches|cwl`,
// the panel's RED export and the run record of `redlab run`. Where cc refuses a file, the refusal is
// asserted word for word and its reason is said below: nothing is skipped silently.
// RED Lab's own extensions that cc's validator cannot see: connector commands are free strings to it, so
// REDs with redlab-connector-local (every notebook export: the runner and the notebook) or redlab-connector-s3
// pass; faice exec would need those programs inside the image. Connector access fields are free-form to it too.
// Needs the validators (.ci/compat-validators.sh, from .ci/setup), the built CLI and, for the run
// records, the Docker engine with redlab/busybox:1.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import { isDeepStrictEqual } from 'util';
import { curiousContainersIssues, forCuriousContainers, loadRed, parseRedText, RED_LAB_ENGINES, RedError, splitBatches, toSortedJson, toSortedYaml, type ExecutionSpec, type Red } from '../../../src/red';
import { draftToRed, draftToRedYaml, inferDraft } from '../../../src/notebook/infer';
import { RedFileModel } from '../../../src/panel/red-file-model';
import { runRedlab } from '../helpers/redlab-cli';
import { ccValidateRed, ccValidateReds, cwltoolValidate, cwltoolValidateMany, faiceSchemaValidate, type CcVerdict } from '../helpers/compat-validators';

jest.setTimeout(300_000);

const REPO = path.resolve(__dirname, '../../..');
const COMPAT = path.join(__dirname, 'fixtures/compat');
const rel = (f: string) => path.relative(REPO, f);

// ---------------------------------------------------------------------------------------------
// What Curious Containers refuses of what RED Lab reads, and why (each asserted exactly).

interface KnownRefusal {
  check: string;
  error: string;
  /** cc's own words (message), or jsonschema's detail for a schema refusal. */
  says: string | RegExp;
  why: string;
  /** Whether `redlab convert format` carries it into its output (a format conversion keeps the content, as faice's does). */
  carriedByFormat: boolean;
}

const legacy = (version: string): KnownRefusal => ({
  check: 'red_validation',
  error: 'RedValidationError',
  says: `redVersion: '${version}' is not one of ['9']`,
  why: `RED ${version}: RED Lab reads it, upgraded to RED 9 in memory with warnings (redlab validate says what to change); cc-core 9.3 reads RED 9 only. convert format keeps the version as faice convert format does; convert batches and convert cwl write the upgraded RED`,
  carriedByFormat: true
});

// libyaml (ruamel.yaml's C loader, which faice's loader uses whenever ruamel.yaml.clib is installed, as it is
// with cc-core) is a YAML 1.1 scanner: a ':' inside a plain scalar in a flow mapping stops it. YAML 1.2 (RED
// Lab's parser, and ruamel's pure-Python loader) reads `{ url: redlab/busybox:1 }` as {url: "redlab/busybox:1"}.
// Hand-written test files only: what RED Lab writes is block style, which both read.
const flowColon: KnownRefusal = {
  check: 'load',
  error: 'YAMLError',
  says: /while scanning a plain scalar[\s\S]*found unexpected ':'/,
  why: "hand-written `image: { url: redlab/busybox:1 }`: a ':' in a plain scalar inside a flow mapping, valid YAML 1.2 that libyaml (faice's loader) cannot scan; `redlab convert format` writes it in block style, which cc reads",
  carriedByFormat: false
};

const CC_REFUSES: Record<string, KnownRefusal> = {
  'src/red/__tests__/fixtures/legacy-red7-nvidia.red.yml': legacy('7'),
  'src/red/__tests__/fixtures/legacy-red8.red.json': legacy('8'),
  'server-bridge/test/integration/fixtures/compat/red-guide-vagrant_machine-learning-guide_cnn-training.red8-legacy.json': legacy('8'),
  'server-bridge/test/cli/fixtures/batches.red.yml': flowColon,
  'server-bridge/test/cli/fixtures/secret-echo.red.yml': flowColon,
  'server-bridge/test/cli/fixtures/sleep.red.yml': flowColon
};

function refusalProblem(v: CcVerdict, expected: KnownRefusal): string | undefined {
  const text = v.detail ?? v.message;
  const saysOk = typeof expected.says === 'string' ? v.detail === expected.says : expected.says.test(v.message);
  if (!v.ok && v.check === expected.check && v.error === expected.error && saysOk) return undefined;
  return `${rel(v.file)}: expected cc to refuse it at ${expected.check} (${expected.error}: ${expected.says}) because ${expected.why}; got ${v.ok ? 'ok' : `${v.check} ${v.error}: ${text}`}`;
}

function passProblem(v: CcVerdict, what: string): string | undefined {
  return v.ok ? undefined : `${what} (${rel(v.file)}): cc refuses it at ${v.check}: ${v.error}: ${v.detail ?? v.message}`;
}

/** A problem when faice's loader read another document than `meant` (a string read as a bool, a date, a number...). */
function misreadProblem(v: CcVerdict, meant: unknown, what: string): string | undefined {
  if (!('data' in v)) return `${what} (${rel(v.file)}): faice's loader could not read it: ${v.message}`;
  return isDeepStrictEqual(v.data, meant) ? undefined : `${what} (${rel(v.file)}): faice's loader reads ${JSON.stringify(v.data)}, RED Lab meant ${JSON.stringify(meant)}`;
}

// ---------------------------------------------------------------------------------------------
// The project's RED fixtures.

const FIXTURE_ROOTS = ['binder/demo', 'src/red/__tests__/fixtures', 'server-bridge/test/cli/fixtures', 'server-bridge/test/integration/fixtures/compat'];
const RED_NAME = /\.(red\.ya?ml|red\.json|red|json|ya?ml)$/;

function listFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(e => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return listFiles(p);
    return e.isFile() && RED_NAME.test(e.name) ? [p] : [];
  });
}

interface Fixture {
  file: string;
  /** RED Lab reads it (redlab validate: valid, possibly upgraded from RED 7/8). */
  validForRedLab: boolean;
  isBatch: boolean;
  legacy: boolean;
}

function fixtures(): Fixture[] {
  return FIXTURE_ROOTS.flatMap(r => listFiles(path.join(REPO, r)))
    .sort()
    .map(file => {
      const text = fs.readFileSync(file, 'utf8');
      try {
        const loaded = loadRed(text, { source: file });
        const version = (parseRedText(text, { source: file }).data as { redVersion?: unknown }).redVersion;
        return { file, validForRedLab: true, isBatch: 'batches' in loaded.red, legacy: version !== '9' };
      } catch (err) {
        if (err instanceof RedError) return { file, validForRedLab: false, isBatch: false, legacy: false };
        throw err;
      }
    });
}

// ---------------------------------------------------------------------------------------------
// What RED Lab writes from them.

interface Written {
  file: string;
  source: string;
  how: string;
}

let tmp: string;
const ALL = fixtures();
const VALID = ALL.filter(f => f.validForRedLab);

async function redlab(args: string[], cwd = REPO): Promise<string> {
  const r = await runRedlab(args, { cwd });
  if (r.code !== 0) throw new Error(`redlab ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r.stdout;
}

/** Runs the jobs, `limit` at a time (the CLI and cwltool are child processes; the machine has 2 cores). */
async function pool<T, R>(items: readonly T[], limit: number, job: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await job(items[i]);
      }
    })
  );
  return out;
}

function writeOut(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

const slug = (f: string) => rel(f).replace(/[^A-Za-z0-9._-]+/g, '_');

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-compat-'));
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

describe('the validators are the real ones, and they refuse what is wrong', () => {
  it('cc-core 9.3.0 and red-val 9.3.0 refuse a RED whose job names an input the cli lacks', async () => {
    const red = fs.readFileSync(path.join(COMPAT, 'red-guide-vagrant_red-beginners-guide_grepwrap.red.yml'), 'utf8');
    const extra = red.replace(/^(inputs:\n)/m, '$1  colour: "red"\n');
    expect(extra).not.toBe(red);
    const v = await ccValidateRed(writeOut('colour.red.yml', extra));
    expect(v.versions).toMatchObject({ 'cc-core': '9.3.0', 'red-val': '9.3.0', 'cc-faice': '9.3.0' });
    expect(v).toMatchObject({ ok: false, check: 'red_validation', error: 'RedSpecificationError' });
    expect(v.message).toBe('Input key "colour" is used in job description, but is not given in cli description');
  });

  it('cc-core refuses a container engine it does not know, naming it', async () => {
    const red = fs.readFileSync(path.join(COMPAT, 'red-guide-vagrant_red-beginners-guide_grepwrap.red.yml'), 'utf8');
    const podman = red.replace(/engine: "docker"/, 'engine: "podman"');
    expect(podman).not.toBe(red);
    const v = await ccValidateRed(writeOut('podman.red.yml', podman));
    expect(v).toMatchObject({ ok: false, check: 'container-engine', error: 'EngineError', message: 'container-engine "podman" not supported' });
  });

  it("sees when faice's loader reads another value than RED Lab meant: an unquoted date is a date to it", async () => {
    const file = writeOut('date.yml', 'day: 2001-12-14\n');
    const [v] = await ccValidateReds([file], { withData: true });
    expect(v.data).toEqual({ day: { __python__: 'date', repr: 'datetime.date(2001, 12, 14)' } });
    expect(misreadProblem(v, { day: '2001-12-14' }, 'a hand-written file')).toMatch(/faice's loader reads .*RED Lab meant/);
  });

  it("faice's own command agrees: `faice schema validate red` passes a RED 9 file and refuses a RED 8 one", async () => {
    expect(await faiceSchemaValidate(path.join(REPO, 'binder/demo/grep.red.yml'))).toEqual({ ok: true, message: '' });
    expect((await faiceSchemaValidate(path.join(REPO, 'src/red/__tests__/fixtures/legacy-red8.red.json'))).ok).toBe(false);
  });

  it('cwltool refuses a CWL tool with an unknown type', async () => {
    const good = fs.readFileSync(path.join(COMPAT, 'curious-containers_tests_red_minimal.cwl'), 'utf8');
    expect((await cwltoolValidate(path.join(COMPAT, 'curious-containers_tests_red_minimal.cwl'))).ok).toBe(true);
    const bad = writeOut('bad.cwl', good.replace(/type: (File|string|int)\b/, 'type: Fiel'));
    expect(bad).not.toBe(good);
    const v = await cwltoolValidate(bad);
    expect(v.ok).toBe(false);
    expect(v.message).toMatch(/Fiel/);
    // cwltool's main() in one process (how the many files below are validated) says the same
    const many = await cwltoolValidateMany([path.join(COMPAT, 'curious-containers_tests_red_minimal.cwl'), bad]);
    expect(many.map(m => m.ok)).toEqual([true, false]);
    expect(many[1].message).toBe(v.message);
  });
});

describe("(a) the project's RED fixtures", () => {
  it('finds them (RED Lab reads most; the broken ones are there to be refused)', () => {
    expect(VALID.length).toBeGreaterThanOrEqual(20);
    expect(ALL.filter(f => !f.validForRedLab).map(f => rel(f.file))).toEqual(['server-bridge/test/cli/fixtures/bad.red.yml']);
    // every listed refusal names a fixture that exists and that RED Lab reads
    for (const name of Object.keys(CC_REFUSES)) expect(VALID.map(f => rel(f.file))).toContain(name);
  });

  it('every fixture RED Lab reads passes cc-core, but for the listed refusals (asserted word for word); cc refuses what RED Lab refuses', async () => {
    const verdicts = await ccValidateReds(ALL.map(f => f.file));
    const problems = verdicts.flatMap((v, i) => {
      const f = ALL[i];
      const known = CC_REFUSES[rel(f.file)];
      if (!f.validForRedLab) return v.ok ? [`${rel(f.file)}: RED Lab refuses it, cc accepts it`] : [];
      return [known ? refusalProblem(v, known) : passProblem(v, 'a fixture RED Lab reads')].filter((p): p is string => !!p);
    });
    expect(problems).toEqual([]);
  });
});

describe('(b) every RED file RED Lab writes passes cc-core', () => {
  it('redlab convert format, to JSON and to YAML, of every fixture RED Lab reads', async () => {
    const jobs = VALID.flatMap(f => (['json', 'yaml'] as const).map(format => ({ f, format })));
    const written = await pool(jobs, 2, async ({ f, format }) => ({
      fixture: f,
      file: writeOut(`format/${slug(f.file)}.${format === 'json' ? 'json' : 'yml'}`, await redlab(['convert', 'format', '--format', format, f.file]))
    }));
    const verdicts = await ccValidateReds(written.map(w => w.file), { withData: true });
    const problems = verdicts.flatMap((v, i) => {
      const source = written[i].fixture.file;
      const known = CC_REFUSES[rel(source)];
      const what = `redlab convert format ${rel(source)}`;
      const meant = parseRedText(fs.readFileSync(source, 'utf8'), { source }).data;
      return [known?.carriedByFormat ? refusalProblem(v, known) : passProblem(v, what), misreadProblem(v, meant, what)].filter((p): p is string => !!p);
    });
    expect(problems).toEqual([]);
    expect(written.length).toBe(2 * VALID.length);
  });

  it('redlab convert batches (YAML and JSON files) of every batch fixture, legacy ones written as RED 9', async () => {
    const batchFixtures = VALID.filter(f => f.isBatch);
    expect(batchFixtures.length).toBeGreaterThanOrEqual(5);
    const written = (
      await pool(
        batchFixtures.flatMap(f => (['yaml', 'json'] as const).map(format => ({ f, format }))),
        2,
        async ({ f, format }) => {
          const outdir = path.join(tmp, 'batches', slug(f.file), format);
          fs.mkdirSync(outdir, { recursive: true });
          const out = await redlab(['convert', 'batches', '--format', format, '--outdir', outdir, f.file]);
          return out.trim().split('\n').map(file => ({ file: path.resolve(REPO, file), source: f.file, how: `redlab convert batches --format ${format}` }));
        }
      )
    ).flat();
    expect(written.length).toBeGreaterThanOrEqual(2 * batchFixtures.length);
    const verdicts = await ccValidateReds(written.map(w => w.file));
    expect(verdicts.flatMap((v, i) => passProblem(v, `${written[i].how} ${rel(written[i].source)}`) ?? [])).toEqual([]);
  });

  it("the panel's export of a notebook experiment (draftToRedYaml): defaults, and every kind of parameter, input, output and GPU it writes", async () => {
    const demo = JSON.parse(fs.readFileSync(path.join(REPO, 'binder/demo/demo.ipynb'), 'utf8'));
    const defaults = { image: 'redlab/debian-python:12', ramMb: 1024 };
    const plain = inferDraft(demo, { notebookPath: 'demo/demo.ipynb', defaults }).draft;

    const rich = inferDraft(richNotebook(), { notebookPath: 'lab/analysis.ipynb', defaults: { ...defaults, gpus: 1 } });
    expect(rich.warnings).toEqual([]);
    const d = rich.draft;
    expect(d.parameters.map(p => p.type).sort()).toEqual(['boolean', 'float', 'float[]', 'int', 'int?', 'string', 'string', 'string[]']);
    d.values = { ...d.values, n: 7, rate: 2.0, tags: [] };
    const ssh = { host: 'lab.example.org', port: 22, auth: { username: 'ann', password: '{{sftp_password}}' } };
    d.inputs.push(
      { name: 'table', kind: 'File', connector: 'redlab-connector-local', access: { path: 'data/table.csv' } },
      { name: 'images', kind: 'Directory', connector: 'redlab-connector-local', access: { path: '../shared/images' }, basename: 'imgs', mount: true },
      { name: 'remote', kind: 'File', connector: 'red-connector-http', access: { url: 'https://example.org/t.csv?raw=1', auth: { username: '{{user}}', password: '{{pw}}' } } },
      { name: 'tiles', kind: 'Directory', connector: 'red-connector-ssh', access: { ...ssh, dirPath: '/data/tiles' }, mount: true },
      { name: 'bucket', kind: 'File', connector: 'redlab-connector-s3', access: { endpoint: 'http://127.0.0.1:9000', bucket: 'b', key: 'k.csv', auth: { accessKeyId: 'lab', secretAccessKey: '{{s3_secret}}' } } }
    );
    d.outputs.push({ name: 'weights', glob: 'weights.h5', kind: 'File', optional: false, send: { connector: 'red-connector-ssh', access: { ...ssh, filePath: '/results/weights.h5' } } });
    const gpuVariants: Array<typeof d.gpus> = [{ count: 2 }, { vramMinMb: 8000 }, { count: 2, vramMinMb: 4096 }, undefined];
    const texts: Array<[string, string]> = [
      ['demo', draftToRedYaml(plain)],
      ...gpuVariants.map((gpus, i): [string, string] => [`rich-${i}`, draftToRedYaml({ ...d, gpus })])
    ];
    expect(texts[1][1]).toContain("password: '{{sftp_password}}'");
    const files = texts.map(([name, text]) => writeOut(`panel/${name}.red.yml`, text));
    const verdicts = await ccValidateReds(files, { withData: true });
    const meant = [draftToRed(plain), ...gpuVariants.map(gpus => draftToRed({ ...d, gpus }))];
    expect(verdicts.flatMap((v, i) => [passProblem(v, "the panel's export"), misreadProblem(v, meant[i], "the panel's export")].filter(p => !!p))).toEqual([]);
    expect(verdicts.map(v => v.execution)).toEqual(files.map(() => 'ccfaice'));
  });

  it("the panel's export of an imported RED file (RedFileModel), as imported and as edited", async () => {
    const imported = VALID.filter(f => !f.legacy);
    const texts = imported.map(f => {
      const loaded = loadRed(fs.readFileSync(f.file, 'utf8'), { source: f.file });
      return [slug(f.file), new RedFileModel(rel(f.file), loaded.red, loaded.floatPaths).yaml] as [string, string];
    });
    const grep = loadRed(fs.readFileSync(path.join(REPO, 'binder/demo/grep.red.yml'), 'utf8'));
    const edited = new RedFileModel('binder/demo/grep.red.yml', grep.red, grep.floatPaths);
    edited.setImage('docker.io/library/busybox:1.36');
    edited.setRamText('512');
    edited.setInputText('query_term', 'a: b # not a comment');
    edited.setInputText('before_context', '');
    edited.setInputPath('text_file', 'data/other file.txt');
    expect(edited.isValid).toBe(true);
    texts.push(['grep-edited', edited.yaml]);
    const files = texts.map(([name, text]) => writeOut(`imported/${name}.red.yml`, text));
    const verdicts = await ccValidateReds(files);
    expect(verdicts.flatMap((v, i) => passProblem(v, `the panel's export of ${texts[i][0]}`) ?? [])).toEqual([]);
  });

  it('the RED in the run record of redlab run (run-record/red.yml, secrets as {{variables}}), for a single and a batch RED', async () => {
    const runs = [
      { red: path.join(REPO, 'binder/demo/grep.red.yml'), outdir: path.join(tmp, 'run/grep'), dirs: ['grep'] },
      { red: path.join(REPO, 'server-bridge/test/cli/fixtures/batches.red.yml'), outdir: path.join(tmp, 'run/batches'), dirs: ['batches_0', 'batches_1', 'batches_2'] }
    ];
    for (const r of runs) {
      const res = await runRedlab(['run', r.red, '--outdir', r.outdir, '--non-interactive']);
      expect({ red: rel(r.red), code: res.code, stderr: res.code === 0 ? '' : res.stderr }).toEqual({ red: rel(r.red), code: 0, stderr: '' });
    }
    const records = runs.flatMap(r => r.dirs.map(d => path.join(tmp, 'run', d, 'run-record')));
    for (const dir of records) expect(fs.existsSync(path.join(dir, 'red.yml'))).toBe(true);
    const verdicts = await ccValidateReds(records.map(d => path.join(d, 'red.yml')));
    expect(verdicts.flatMap(v => passProblem(v, 'the run record') ?? [])).toEqual([]);
    const cwl = await cwltoolValidateMany(records.map(d => path.join(d, 'cli.cwl')));
    expect(cwl.flatMap((v, i) => (v.ok ? [] : [`${records[i]}/cli.cwl: ${v.message}`]))).toEqual([]);
  });
});

describe("RED Lab's execution engines (issue 13): RED Lab extensions cc refuses as written; forCuriousContainers writes what it runs", () => {
  const EXTENSIONS: Record<string, ExecutionSpec> = {
    slurm: { engine: 'slurm', settings: { partition: 'debug', timeLimit: '01:00:00', runtime: 'charliecloud', workDir: '/shared/redlab', submit: { host: 'login', user: 'ann' }, concurrency: 4 } },
    kubernetes: { engine: 'kubernetes', settings: { namespace: 'ml', timeLimit: '00:30:00', imagePullSecrets: ['cred'], concurrency: 2 } },
    docker: { engine: 'docker', settings: {} },
    'docker-ssh': { engine: 'docker-ssh', settings: {} },
    process: { engine: 'process', settings: {} }
  };

  it('covers every RED Lab engine', () => {
    expect(Object.keys(EXTENSIONS).sort()).toEqual([...RED_LAB_ENGINES].sort());
  });

  it("cc-core refuses each as written, as curiousContainersIssues says; each single RED and each batch file of forCuriousContainers' output passes, read as meant", async () => {
    const single = loadRed(fs.readFileSync(path.join(REPO, 'binder/demo/grep.red.yml'), 'utf8')).red;
    const batch = loadRed(fs.readFileSync(path.join(REPO, 'src/red/__tests__/fixtures/training-batches.red.json'), 'utf8')).red;
    const asWritten: Array<{ engine: string; file: string }> = [];
    const converted: Array<{ what: string; file: string; meant: unknown }> = [];
    for (const [engine, execution] of Object.entries(EXTENSIONS)) {
      for (const [kind, red] of [['single', single], ['batch', batch]] as const) {
        const withEngine = { ...red, execution } as Red;
        const name = `engines/${engine}-${kind}`;
        expect(curiousContainersIssues(withEngine).map(i => i.message)).toEqual([expect.stringContaining(`(execution-engine "${engine}" not supported)`)]);
        asWritten.push({ engine, file: writeOut(`${name}.red.yml`, toSortedYaml(withEngine)) });
        const cc = forCuriousContainers(withEngine);
        expect(cc.warnings.map(w => w.path)).toEqual(['execution']);
        const files = kind === 'single' ? [cc.red as Red] : splitBatches(cc.red);
        files.forEach((r, i) => {
          converted.push({ what: `forCuriousContainers ${name} [${i}] YAML`, file: writeOut(`${name}-cc-${i}.red.yml`, toSortedYaml(r)), meant: r });
          converted.push({ what: `forCuriousContainers ${name} [${i}] JSON`, file: writeOut(`${name}-cc-${i}.red.json`, toSortedJson(r)), meant: r });
        });
      }
    }
    const refused = await ccValidateReds(asWritten.map(w => w.file));
    expect(refused.map(v => ({ ok: v.ok, check: v.check, error: v.error, message: v.message }))).toEqual(
      asWritten.map(w => ({ ok: false, check: 'execution-engine', error: 'EngineError', message: `execution-engine "${w.engine}" not supported` }))
    );
    const verdicts = await ccValidateReds(converted.map(c => c.file), { withData: true });
    expect(verdicts.flatMap((v, i) => [passProblem(v, converted[i].what), misreadProblem(v, JSON.parse(JSON.stringify(converted[i].meant)), converted[i].what)].filter(p => !!p))).toEqual([]);
    expect(verdicts.map(v => v.execution)).toEqual(converted.map(() => null));
  });
});

describe('(c) every redlab convert cwl output passes cwltool --validate', () => {
  it('of every fixture RED Lab reads (legacy ones upgraded); identical outputs validated once', async () => {
    const outputs = await pool(VALID, 2, async f => ({ source: f.file, text: await redlab(['convert', 'cwl', f.file]) }));
    const unique = new Map<string, { file: string; sources: string[] }>();
    for (const o of outputs) {
      expect(o.text).toMatch(/^class: CommandLineTool$/m);
      const hash = createHash('sha256').update(o.text).digest('hex').slice(0, 16);
      const seen = unique.get(hash);
      if (seen) seen.sources.push(rel(o.source));
      else unique.set(hash, { file: writeOut(`cwl/${hash}.cwl`, o.text), sources: [rel(o.source)] });
    }
    expect(unique.size).toBeGreaterThanOrEqual(10);
    const entries = [...unique.values()];
    const verdicts = await cwltoolValidateMany(entries.map(e => e.file));
    expect(verdicts.flatMap((v, i) => (v.ok ? [] : [`redlab convert cwl ${entries[i].sources.join(', ')}: ${v.message}`]))).toEqual([]);
  });

  it("writes Curious Containers' own minimal.cwl byte for byte from minimal.red", async () => {
    const out = await redlab(['convert', 'cwl', path.join(COMPAT, 'curious-containers_tests_red_minimal.red')]);
    expect(out).toBe(fs.readFileSync(path.join(COMPAT, 'curious-containers_tests_red_minimal.cwl'), 'utf8'));
  });
});

/** A notebook whose parameters cell has every type the panel writes: int, float, str, bool, lists, Optional, JSON. */
function richNotebook(): unknown {
  const cells: Array<{ source: string; tags?: string[] }> = [
    {
      tags: ['parameters'],
      source: [
        'n = 3  # steps',
        'rate = 0.5',
        'title = "run 1: a/b #2"',
        'verbose = True',
        'sizes = [0.5, 1.0]',
        'tags = ["x", "y"]',
        'limit: Optional[int] = None',
        'opts = {"k": 1}'
      ].join('\n')
    },
    { source: 'import json\nwith open("metrics.json", "w") as f:\n    json.dump({"n": n}, f)\nopen("out/log.txt", "w").write(title)' }
  ];
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', language: 'python', display_name: 'Python 3' } },
    cells: cells.map(c => ({ cell_type: 'code', metadata: c.tags ? { tags: c.tags } : {}, source: c.source, outputs: [], execution_count: null }))
  };
}
