// A real one-node Slurm cluster for a test file (slurm-cluster.sh): started before its
// tests, stopped after them. Without Slurm on the machine the tests are skipped, except
// under CI, where .ci/setup installed it and a missing Slurm is a failure.
import { execFile, spawnSync } from 'child_process';
import { mkdtemp } from 'fs/promises';
import * as os from 'os';
import * as path from 'path';

const SCRIPT = path.join(__dirname, 'slurm-cluster.sh');

export interface SlurmCluster {
  dir: string;
  /** SLURM_CONF and the rest of the environment Slurm's commands need. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

function sh(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('bash', [SCRIPT, ...args], { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`slurm-cluster.sh ${args[0]}: ${stderr || err.message}`)) : resolve(stdout)))
  );
}

/** Whether this machine can run the cluster (Slurm, munge, Charliecloud, root). */
export function slurmAvailable(): boolean {
  return spawnSync('sh', ['-c', 'command -v slurmctld && command -v slurmd && command -v munged && command -v ch-run && [ "$(id -u)" = 0 ]']).status === 0;
}

/** `describe` when Slurm can run here (always under CI=true, where a missing Slurm fails loudly), else `describe.skip` with a note. */
export function describeWithSlurm(): jest.Describe {
  if (process.env.CI === 'true' || slurmAvailable()) return describe;
  console.warn('Slurm tests skipped: slurm-wlm, munge or charliecloud is missing, or not root (bash .ci/setup installs them)');
  return describe.skip;
}

export async function startSlurmCluster(): Promise<SlurmCluster> {
  // Short: munge's socket path must fit in a sockaddr_un.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rl-slurm-'));
  const clusterDir = path.join(dir, 'c');
  await sh(['start', clusterDir]);
  return {
    dir: clusterDir,
    env: { ...process.env, SLURM_CONF: path.join(clusterDir, 'slurm.conf') },
    stop: async () => {
      await sh(['stop', clusterDir]);
      await import('fs/promises').then(fs => fs.rm(dir, { recursive: true, force: true }));
    }
  };
}
