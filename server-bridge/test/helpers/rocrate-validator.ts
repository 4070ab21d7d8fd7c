// The real RO-Crate validator (PyPI roc-validator, `rocrate-validator`) and ro-crate-py (PyPI rocrate), run
// from the project's .venv as child processes. Both are installed by .ci/rocrate-validator.sh (from
// .ci/setup), which also fills the validator's HTTP cache with the JSON-LD contexts a crate names, so that
// validation runs offline (`--offline`: a context missing from the cache is an error here, never a fetch).
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const REPO = path.resolve(__dirname, '../../..');
const VENV_BIN = path.join(REPO, '.venv/bin');
const VALIDATOR = path.join(VENV_BIN, 'rocrate-validator');
const PYTHON = path.join(VENV_BIN, 'python3');
const READ_CRATE = path.join(__dirname, 'read-crate.py');
// The same folder .ci/rocrate-validator.sh fills (its REDLAB_ROCRATE_VALIDATOR_CACHE overrides both).
const CACHE_DIR = process.env.REDLAB_ROCRATE_VALIDATOR_CACHE || '/var/cache/redlab/rocrate-validator';
const HTTP_CACHE = path.join(CACHE_DIR, 'http_cache');
const SETUP_HINT = 'run bash .ci/rocrate-validator.sh (.ci/setup calls it)';

export interface CrateIssue {
  /** REQUIRED, RECOMMENDED or OPTIONAL: the level of the requirement the crate misses. */
  severity: string;
  /** The validator's check id, e.g. `process-run-crate-0.5_8.4` or `ro-crate-1.1_22.1`. */
  check: string;
  /** The validator's own words. */
  message: string;
  /** The entity it is about (the validator's `violatingEntity`), when it names one. */
  entity?: string;
}

export interface CrateVerdict {
  passed: boolean;
  issues: CrateIssue[];
  /** The validator's whole JSON report. */
  raw: unknown;
}

export interface ValidateOptions {
  /** Lowest requirement level checked (`recommended` checks REQUIRED and RECOMMENDED). Default `recommended`. */
  level?: 'required' | 'recommended';
  /** The validator's profile id. Default `process-run-crate-0.5`. */
  profile?: string;
}

function requireTool(file: string, what: string): string {
  if (!fs.existsSync(file)) throw new Error(`${what} is not installed (${file}): ${SETUP_HINT}`);
  return file;
}

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, NO_COLOR: '1', PYTHONDONTWRITEBYTECODE: '1', COLUMNS: '200' };
    execFile(cmd, args, { cwd: REPO, maxBuffer: 64 * 1024 * 1024, env }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout, stderr });
    });
  });
}

interface ReportIssue {
  severity: string;
  message: string;
  violatingEntity?: string | null;
  check: { identifier: string };
}
interface Report {
  passed: boolean;
  issues: ReportIssue[];
  skipped_check_details?: { identifier: string; message: string; category: string }[];
}

/**
 * The real validator's verdict on the crate in `dir` (a folder holding ro-crate-metadata.json):
 * `rocrate-validator validate --offline -p PROFILE -l LEVEL -f json`. Throws when the validator could not
 * judge (no report, or a check it had to skip because something was missing from its offline cache).
 */
export async function validateCrate(dir: string, opts: ValidateOptions = {}): Promise<CrateVerdict> {
  const level = opts.level ?? 'recommended';
  const profile = opts.profile ?? 'process-run-crate-0.5';
  if (!fs.existsSync(path.join(dir, 'ro-crate-metadata.json'))) throw new Error(`${dir} holds no ro-crate-metadata.json`);
  if (!fs.existsSync(`${HTTP_CACHE}.sqlite`)) throw new Error(`the validator's offline cache ${HTTP_CACHE}.sqlite is missing: ${SETUP_HINT}`);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rocrate-validator-'));
  const reportFile = path.join(out, 'report.json');
  try {
    const args = ['-y', '--disable-color', 'validate', '--offline', '--cache-path', HTTP_CACHE,
      '-p', profile, '-l', level, '-f', 'json', '-o', reportFile, dir];
    const r = await run(requireTool(VALIDATOR, 'rocrate-validator (PyPI roc-validator)'), args);
    // Exit 0: passed, 1: issues found; anything else (or no report) is the validator failing to run.
    if ((r.code !== 0 && r.code !== 1) || !fs.existsSync(reportFile)) {
      throw new Error(`rocrate-validator ${args.join(' ')} exited ${r.code} without a report:\n${(r.stderr || r.stdout).slice(-4000)}`);
    }
    const raw = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as Report;
    const unjudged = (raw.skipped_check_details ?? []).filter(s => s.category === 'exception');
    if (unjudged.length > 0) {
      throw new Error(`rocrate-validator could not run ${unjudged.length} check(s) on ${dir} (e.g. ${unjudged[0].identifier}: ${unjudged[0].message}); ` +
        `a JSON-LD context the crate names may be missing from its offline cache: ${SETUP_HINT}\n${r.stderr.slice(-4000)}`);
    }
    const issues = raw.issues.map((i): CrateIssue => ({
      severity: i.severity,
      check: i.check.identifier,
      message: i.message,
      ...(i.violatingEntity ? { entity: i.violatingEntity } : {})
    }));
    if (raw.passed !== (r.code === 0)) throw new Error(`rocrate-validator said passed=${raw.passed} but exited ${r.code}`);
    return { passed: raw.passed, issues, raw };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

export interface RoCratePyView {
  /** Every entity ro-crate-py read, with its @type as a list. */
  entities: { id: string; type: string[] }[];
  /** The root data entity's properties as ro-crate-py holds them (JSON-LD, references as {"@id"}). */
  root: Record<string, unknown>;
}

/** The crate in `dir` as ro-crate-py (`rocrate.rocrate.ROCrate`) reads it, through read-crate.py. */
export async function readCrateWithRoCratePy(dir: string): Promise<RoCratePyView> {
  const r = await run(requireTool(PYTHON, "the project's .venv python"), [READ_CRATE, dir]);
  if (r.code !== 0) throw new Error(`ro-crate-py could not read ${dir} (read-crate.py exited ${r.code}):\n${r.stderr.slice(-4000)}`);
  return JSON.parse(r.stdout) as RoCratePyView;
}
