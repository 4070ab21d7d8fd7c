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

/**
 * Runs `redlab ...args` in `cwd` (the repo by default) with `env` on top of this
 * process's environment; `onStderr` is given all of stderr so far on each chunk.
 */
export function runRedlab(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; onStderr?: (s: string, child: ChildProcess) => void } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
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
