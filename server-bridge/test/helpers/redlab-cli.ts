// The `redlab` command line as a user runs it: the built binary (server-bridge/dist,
// `npm run build -w server-bridge`) in a child process.
import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';

const REPO = path.resolve(__dirname, '../../..');
const bin = path.join(REPO, 'server-bridge/bin/redlab.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The Python package's copy of the bridge (`npm run build` packs it: server-bridge/scripts/pack-python.js). */
export const PYTHON_PACKAGE_BRIDGE = path.join(REPO, 'jupyterlab_redlab/bridge');

/**
 * Runs `redlab ...args` in `cwd` (the repo by default) with `env` on top of this
 * process's environment; `onStderr` is given all of stderr so far on each chunk.
 * `launcher`: another entry point (the Python package's launch.js) instead of the built binary.
 */
export function runRedlab(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; launcher?: string; onStderr?: (s: string, child: ChildProcess) => void } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [opts.launcher ?? bin, ...args], {
      cwd: opts.cwd ?? REPO,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe']
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', d => (stdout += d));
    child.stderr.on('data', d => {
      stderr += d;
      opts.onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', code => resolve({ code, stdout, stderr }));
  });
}
