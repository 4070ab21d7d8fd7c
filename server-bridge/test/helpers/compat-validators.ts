// The real validators of the formats RED Lab shares with others, as child processes:
// Curious Containers' RED validator (cc-core 9.3 / red-val, called as faice calls it, by
// compat-validate.py) and cwltool's `--validate`. Both are installed by .ci/compat-validators.sh
// (from .ci/setup) into their own environments inside .venv/tools/.
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const REPO = path.resolve(__dirname, '../../..');
const TOOLS = path.join(REPO, '.venv/tools');
const CC_PYTHON = path.join(TOOLS, 'cc-core/bin/python');
const CWLTOOL = path.join(TOOLS, 'cwltool/bin/cwltool');
const FAICE = path.join(TOOLS, 'cc-core/bin/faice');
const CC_SCRIPT = path.join(__dirname, 'compat-validate.py');

export interface Verdict {
  ok: boolean;
  /** The validator's own words: cc's exception message, cwltool's output (without its INFO lines). */
  message: string;
}

/** cc's verdict on one RED file, as compat-validate.py prints it. */
export interface CcVerdict extends Verdict {
  file: string;
  /** The step that refused it (load, secrets, red_validation, container-engine, execution-engine, restricted-red). */
  check: string | null;
  /** cc's exception class (RedValidationError, RedSpecificationError, YAMLError, EngineError, ...). */
  error: string | null;
  /** For a schema refusal: where in the file and why (jsonschema's best match inside RED's oneOf). */
  detail: string | null;
  /** The RED's execution engine, when it names one. */
  execution: string | null;
  versions: Record<string, string>;
  /** With `withData`: the document as faice's loader read it. */
  data?: unknown;
}

function requireTool(file: string, what: string): string {
  if (!fs.existsSync(file)) throw new Error(`${what} is not installed (${file}): run bash .ci/compat-validators.sh (.ci/setup calls it)`);
  return file;
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: REPO, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1', PYTHONDONTWRITEBYTECODE: '1' } }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
    });
  });
}

/**
 * cc's verdicts on many RED files in one Python process (cc-core's import is most of the cost);
 * `withData`: each verdict also carries the document as faice's loader read it.
 */
export async function ccValidateReds(files: readonly string[], opts: { withData?: boolean } = {}): Promise<CcVerdict[]> {
  if (files.length === 0) return [];
  const r = await run(requireTool(CC_PYTHON, "Curious Containers' cc-core"), [CC_SCRIPT, ...(opts.withData ? ['--with-data'] : []), ...files]);
  const lines = r.stdout.split('\n').filter(l => l.trim() !== '');
  if (lines.length !== files.length) throw new Error(`compat-validate.py gave ${lines.length} verdicts for ${files.length} files (exit ${r.code}):\n${r.stderr}`);
  return lines.map(l => {
    const v = JSON.parse(l) as Omit<CcVerdict, 'message'> & { message: string | null };
    return { ...v, message: v.message ?? '' };
  });
}

/** Curious Containers' verdict on a RED file: `{ok, message}` and the details (which check, cc's error class). */
export async function ccValidateRed(file: string): Promise<CcVerdict> {
  return (await ccValidateReds([file]))[0];
}

// cwltool colours its log unless told otherwise; the INFO lines name the version and the resolved path only.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

function cwltoolVerdict(code: number, stdout: string, stderr: string): Verdict {
  const message = (stdout + stderr)
    .replace(ANSI, '')
    .split('\n')
    .filter(l => l.trim() !== '' && !/^INFO /.test(l))
    .join('\n');
  return { ok: code === 0 && /is valid CWL/.test(stdout), message };
}

/** `cwltool --validate FILE`: ok when it exits 0 saying the file "is valid CWL". */
export async function cwltoolValidate(file: string): Promise<Verdict> {
  const r = await run(requireTool(CWLTOOL, 'cwltool'), ['--validate', file]);
  return cwltoolVerdict(r.code, r.stdout, r.stderr);
}

// cwltool's own entry point (what the `cwltool` command calls) run once per file in one process: loading
// cwltool and the CWL schema is ~3 s of each `cwltool --validate`, the validation itself a few tenths.
const CWLTOOL_MANY = `
import io, json, sys
from cwltool.main import main
for f in sys.argv[1:]:
    out, err = io.StringIO(), io.StringIO()
    code = main(['--validate', f], stdout=out, stderr=err)
    print(json.dumps({'code': code, 'stdout': out.getvalue(), 'stderr': err.getvalue()}), flush=True)
`;

/** `cwltool --validate` of each file, by cwltool's main() in one Python process; the verdicts in order. */
export async function cwltoolValidateMany(files: readonly string[]): Promise<Verdict[]> {
  if (files.length === 0) return [];
  requireTool(CWLTOOL, 'cwltool');
  const r = await run(path.join(TOOLS, 'cwltool/bin/python'), ['-c', CWLTOOL_MANY, ...files]);
  const lines = r.stdout.split('\n').filter(l => l.startsWith('{'));
  if (lines.length !== files.length) throw new Error(`cwltool gave ${lines.length} verdicts for ${files.length} files (exit ${r.code}):\n${r.stderr}`);
  return lines.map(l => {
    const v = JSON.parse(l) as { code: number; stdout: string; stderr: string };
    return cwltoolVerdict(v.code, v.stdout, v.stderr);
  });
}

/**
 * `faice schema validate red FILE`, faice's own command (the RED 9 jsonschema only). cc-faice 9.3.0's
 * command crashes while printing a refusal (TypeError in its secret masking), so only its exit status counts.
 */
export async function faiceSchemaValidate(file: string): Promise<Verdict> {
  const r = await run(requireTool(FAICE, 'faice (cc-faice)'), ['schema', 'validate', 'red', file]);
  return { ok: r.code === 0, message: (r.stdout + r.stderr).trim() };
}
