// The `redlab` command line as a user runs it: the built binary, a real Docker
// engine, real files. Needs `npm run build` and the local base images (.ci/setup).
import { spawn } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { runRedlab } from '../helpers/redlab-cli';

// Real containers: seconds each, and much longer on a loaded machine than jest's default 5 s.
jest.setTimeout(60_000);

const fixtures = path.join(__dirname, 'fixtures');

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'redlab-cli-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('redlab validate', () => {
  it('accepts a valid RED and says what it is', async () => {
    const r = await runRedlab(['validate', 'binder/demo/grep.red.yml', path.join(fixtures, 'hello.red.json')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('binder/demo/grep.red.yml: valid RED 9 (3 inputs, image redlab/busybox:1)');
    expect(r.stdout).toContain('hello.red.json: valid RED 9');
  });

  it('rejects a bad RED listing every problem with its field and line', async () => {
    const r = await runRedlab(['validate', path.join(fixtures, 'bad.red.yml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('bad.red.yml is not a valid RED file');
    // int given 1.5 (line 12), undeclared job input (line 13), misspelt key (line 18)
    expect(r.stderr).toMatch(/bad\.red\.yml:12: inputs\.count: .*int/);
    expect(r.stderr).toMatch(/bad\.red\.yml:13: inputs\.colour: /);
    expect(r.stderr).toMatch(/imagee/);
    expect(r.stderr).toMatch(/did you mean ["']image["']/);
  });

  it('names a missing file and where relative paths start', async () => {
    const r = await runRedlab(['validate', 'no/such.red.yml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no/such.red.yml: no such file');
  });
});

describe('redlab convert and schema', () => {
  it('converts JSON to sorted YAML and back', async () => {
    const y = await runRedlab(['convert', 'format', path.join(fixtures, 'hello.red.json')]);
    expect(y.code).toBe(0);
    expect(y.stdout.split('\n')[0]).toBe('cli:');
    expect(y.stdout).toContain("redVersion: '9'\n");
    const yamlFile = path.join(tmp, 'hello.red.yml');
    fs.writeFileSync(yamlFile, y.stdout);
    const j = await runRedlab(['convert', 'format', yamlFile]);
    expect(j.code).toBe(0);
    expect(JSON.parse(j.stdout)).toEqual(JSON.parse(fs.readFileSync(path.join(fixtures, 'hello.red.json'), 'utf8')));
  });

  it('prints the cli section as CWL', async () => {
    const r = await runRedlab(['convert', 'cwl', path.join(fixtures, 'hello.red.json')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('class: CommandLineTool');
    expect(r.stdout).toContain('baseCommand: echo');
    expect(r.stdout).not.toContain('redVersion');
  });

  it('splits a batch RED into one file per batch, and refuses a RED without batches', async () => {
    const r = await runRedlab(['convert', 'batches', path.join(fixtures, 'batches.red.yml'), '--outdir', tmp, '--prefix', 'p_']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([0, 1, 2].map(n => path.join(tmp, `p_batch_${n}.yml`)));
    const second = fs.readFileSync(path.join(tmp, 'p_batch_1.yml'), 'utf8');
    expect(second).toContain('word: second');
    expect(second).not.toContain('batches');
    const v = await runRedlab(['validate', path.join(tmp, 'p_batch_1.yml')]);
    expect(v.code).toBe(0);
    const none = await runRedlab(['convert', 'batches', path.join(fixtures, 'hello.red.json')]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('has no batches');
  });

  it('a RED for the Slurm engine: converted as written with a warning that Curious Containers cannot run it, or for it with --curious-containers', async () => {
    const onSlurm = path.join(tmp, 'slurm.red.yml');
    fs.writeFileSync(onSlurm, fs.readFileSync(path.join(fixtures, 'batches.red.yml'), 'utf8') + '\nexecution:\n  engine: slurm\n  settings: { partition: gpu }\n');
    const asWritten = await runRedlab(['convert', 'format', onSlurm]);
    expect(asWritten.code).toBe(0);
    expect(JSON.parse(asWritten.stdout).execution).toEqual({ engine: 'slurm', settings: { partition: 'gpu' } });
    expect(asWritten.stderr).toContain('execution.engine: slurm is a RED Lab extension; Curious Containers (faice/agency) cannot run it');
    const forCc = await runRedlab(['convert', 'format', onSlurm, '--curious-containers']);
    expect(JSON.parse(forCc.stdout).execution).toBeUndefined();
    expect(forCc.stderr).toMatch(/left out and its settings \(partition\), so Curious Containers runs the RED on its own machine/);
    const dir = fs.mkdtempSync(path.join(tmp, 'cc-'));
    const split = await runRedlab(['convert', 'batches', onSlurm, '--outdir', dir, '--curious-containers']);
    expect(split.code).toBe(0);
    for (const f of split.stdout.trim().split('\n')) expect(fs.readFileSync(f, 'utf8')).not.toContain('execution');
    const kept = await runRedlab(['convert', 'batches', onSlurm, '--outdir', dir, '--prefix', 'k_']);
    expect(fs.readFileSync(path.join(dir, 'k_batch_0.yml'), 'utf8')).toContain('engine: slurm');
    expect(kept.stderr).toContain('slurm is a RED Lab extension');
  });

  it('shows the RED JSON Schema', async () => {
    const r = await runRedlab(['schema', 'show']);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout);
    expect(JSON.stringify(schema)).toContain('redVersion');
  });
});

describe('redlab run', () => {
  it('runs the offline demo and writes verified outputs', async () => {
    const outdir = path.join(tmp, 'demo');
    const r = await runRedlab(['run', 'binder/demo/grep.red.yml', '--outdir', outdir, '--json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.state).toBe('succeeded');
    expect(result.exitCode).toBe(0);
    expect(result.command).toEqual(['grep', 'QU', '/cc/inputs/text_file/in.txt', '-B', '1']);
    const out = fs.readFileSync(path.join(outdir, 'matches.txt'), 'utf8');
    expect(out).toBe(
      'the code, the data, and the environment.\nQUESTION: which of them do you write down?\nRED files describe all three,\nso a colleague can run the QUERY again in ten years.\n'
    );
    expect(result.outputs.matches.sha256).toBe(createHash('sha256').update(out).digest('hex'));
    expect(result.outputs.matches.size).toBe(Buffer.byteLength(out));
    expect(result.image.id).toMatch(/^sha256:/);
    expect(typeof result.timings.running).toBe('number');
    // progress went to stderr, with phases
    expect(r.stderr).toMatch(/staging/);
    expect(r.stderr).toMatch(/succeeded, exit code 0/);
  });

  describe('with {{variables}} and an HTTP input', () => {
    let server: http.Server;
    let baseUrl: string;
    const password = 'hunter2-very-secret';
    beforeAll(async () => {
      server = http.createServer((req, res) => {
        const expected = 'Basic ' + Buffer.from(`alice:${password}`).toString('base64');
        if (req.headers.authorization !== expected) {
          res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="t"' });
          res.end('no');
          return;
        }
        // The file itself contains the secret: the container prints it, and masking must hide it.
        res.end(`the password is ${password}\n`);
      });
      await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
      baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise(r => server.close(r)));

    it('fails without prompting when values are missing, naming them and how to give them', async () => {
      const r = await runRedlab(['run', path.join(fixtures, 'secret-echo.red.yml'), '--non-interactive', '--outdir', path.join(tmp, 'x')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('missing values for 2 variables: base_url, http_password');
      expect(r.stderr).toContain('REDLAB_VAR_http_password');
    });

    it('fills them from a file and the environment, and masks the secret everywhere', async () => {
      const vars = path.join(tmp, 'vars.yml');
      fs.writeFileSync(vars, `base_url: ${baseUrl}\n`);
      const outdir = path.join(tmp, 'secret');
      // The server listens on 127.0.0.1: connectors reach it only when allowed.
      const r = await runRedlab(['run', path.join(fixtures, 'secret-echo.red.yml'), '--variables', vars, '--non-interactive', '--outdir', outdir, '--json', '--allow-connector-host', '127.0.0.1'], {
        env: { REDLAB_VAR_http_password: password }
      });
      expect(r.stderr).not.toContain(password);
      expect(r.stdout).not.toContain(password);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain('the password is ********');
      const result = JSON.parse(r.stdout);
      expect(result.state).toBe('succeeded');
      expect(result.inputs.payload.size).toBe(`the password is ${password}\n`.length);
      // The output file holds what the container wrote: the real bytes, on the user's disk.
      expect(fs.readFileSync(path.join(outdir, 'log.txt'), 'utf8')).toContain(password);
    });
  });

  it('runs batches in parallel, each into its own outdir', async () => {
    const outdir = path.join(tmp, 'b');
    const r = await runRedlab(['run', path.join(fixtures, 'batches.red.yml'), '--outdir', outdir, '--parallel', '2', '--json']);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.batches.map((b: { state: string }) => b.state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(['first', 'second', 'third'].map((w, n) => fs.readFileSync(path.join(`${outdir}_${n}`, 'said.txt'), 'utf8'))).toEqual(['first\n', 'second\n', 'third\n']);
  });

  it('fails clearly when the image is missing and no registry is reachable', async () => {
    const r = await runRedlab(['run', path.join(fixtures, 'missing-image.red.yml'), '--outdir', path.join(tmp, 'm'), '--json']);
    expect(r.code).toBe(1);
    const result = JSON.parse(r.stdout);
    expect(result.state).toBe('failed');
    expect(result.error).toMatch(/registry\.invalid\/redlab\/never-built:0\.0/);
    expect(result.error).toMatch(/docker load/);
  });

  it('says which socket it tried when no Docker engine answers', async () => {
    const sock = path.join(tmp, 'no-docker.sock');
    const r = await runRedlab(['run', path.join(fixtures, 'hello.red.json'), '--outdir', path.join(tmp, 'n')], { env: { DOCKER_HOST: `unix://${sock}` } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(sock);
    expect(r.stderr).toMatch(/dockerd|Docker/);
  });

  it('cancels on Ctrl-C: container gone, exit code 130, partial output kept', async () => {
    const outdir = path.join(tmp, 'cancel');
    let sent = false;
    const r = await runRedlab(['run', path.join(fixtures, 'sleep.red.yml'), '--outdir', outdir, '--json'], {
      onStderr: (text, child) => {
        if (!sent && /^started$/m.test(text)) {
          sent = true;
          child.kill('SIGINT');
        }
      }
    });
    expect(sent).toBe(true);
    expect(r.code).toBe(130);
    const result = JSON.parse(r.stdout);
    expect(result.state).toBe('cancelled');
    expect(fs.readFileSync(path.join(outdir, 'log.txt'), 'utf8')).toBe('started\n');
    expect(result.outputs.log.partial).toBe(true);
    const containerId = result.batches[0].containerId as string;
    const inspect = await new Promise<number | null>(res => spawn('docker', ['inspect', containerId], { stdio: 'ignore' }).on('close', res));
    expect(inspect).not.toBe(0);
  }, 60_000);
});
