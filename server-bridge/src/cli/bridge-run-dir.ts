// A bridge run's output folder, from its id: what `redlab export RUN_ID` and `redlab rerun
// RUN_ID` read (the bridge keeps each run's outputs, and its run record, in
// <dataDir>/runs/<id>/outputs, batch N of a batch RED in outputs_N).
import { stat } from 'fs/promises';
import * as path from 'path';
import { defaultDataDir } from '../bridge/config';
import { CliError } from './red-file';

/** The bridge's data folder: --data-dir, else REDLAB_DATA_DIR, else the bridge's default. */
export function bridgeDataDir(flag: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string {
  return path.resolve(cwd, flag ?? env.REDLAB_DATA_DIR ?? defaultDataDir(env));
}

/** The output folder of batch `batch` of a bridge run (`outputs`, or `outputs_N` for a run of several batches). */
export async function bridgeRunDir(id: string, dataDir: string, batch: number | undefined): Promise<string> {
  const runDir = path.join(dataDir, 'runs', id);
  if (!(await stat(runDir).catch(() => undefined))?.isDirectory()) {
    throw new CliError(`no run ${id} in the bridge's data folder ${dataDir}: check the id (the panel's run history shows it), or give the bridge's --data-dir`);
  }
  const single = path.join(runDir, 'outputs');
  const hasFolder = async (d: string) => (await stat(d).catch(() => undefined))?.isDirectory() ?? false;
  if (await hasFolder(single)) {
    if (batch !== undefined && batch !== 0) throw new CliError(`run ${id} has one batch: leave --batch out (or give 0)`);
    return single;
  }
  const batches: number[] = [];
  for (let i = 0; await hasFolder(`${single}_${i}`); i++) batches.push(i);
  if (!batches.length) throw new CliError(`run ${id} has no output folder yet: it has not run (or its outputs were removed); try again once it has ended`);
  if (batch === undefined) {
    if (batches.length === 1) return `${single}_0`;
    throw new CliError(`run ${id} has ${batches.length} batches, each its own crate: add --batch N (0 to ${batches.length - 1})`);
  }
  if (!batches.includes(batch)) throw new CliError(`run ${id} has no batch ${batch}: batches are 0 to ${batches.length - 1}`);
  return `${single}_${batch}`;
}
