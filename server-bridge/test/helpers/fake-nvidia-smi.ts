// A stand-in `nvidia-smi` on PATH: a shell script in a temp folder that prints
// the CSV a real one prints for --query-gpu=index,uuid,name,memory.total,memory.used.
import { chmod, mkdtemp, rm, writeFile } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';

export interface FakeNvidiaSmi {
  dir: string;
  /** process.env with the fake first on PATH. */
  env: NodeJS.ProcessEnv;
  /** The arguments of the last call, one per line. */
  argsFile: string;
  cleanup(): Promise<void>;
}

export async function fakeNvidiaSmi(csv: string, exitCode = 0): Promise<FakeNvidiaSmi> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'redlab-fake-nvsmi-'));
  const argsFile = path.join(dir, 'args');
  const script = `#!/bin/sh\nprintf '%s\\n' "$@" > '${argsFile}'\ncat <<'CSV'\n${csv}\nCSV\nexit ${exitCode}\n`;
  const bin = path.join(dir, 'nvidia-smi');
  await writeFile(bin, script);
  await chmod(bin, 0o755);
  return {
    dir,
    env: { ...process.env, PATH: `${dir}${path.delimiter}${process.env.PATH ?? ''}` },
    argsFile,
    cleanup: () => rm(dir, { recursive: true, force: true })
  };
}
