// Who ran a run and on what machine, for its run record: the agent from the user's
// settings (environment), the machine from the OS and the engine.
import * as os from 'os';
import type { CrateAgent, CrateMachine } from '../../../src/red';
import type { Engine } from '../engine/types';

/**
 * The person the record names: REDLAB_AUTHOR (else the login name), REDLAB_ORCID
 * (an ORCID iD or its URL), REDLAB_AFFILIATION and REDLAB_AFFILIATION_URL (the
 * publisher, e.g. the institute's ROR or home page). Nothing is guessed beyond the login name.
 */
export function crateAgent(env: NodeJS.ProcessEnv): CrateAgent {
  let name = env.REDLAB_AUTHOR?.trim();
  if (!name) {
    try {
      name = os.userInfo().username;
    } catch {
      name = 'unknown user';
    }
  }
  const orcidRaw = env.REDLAB_ORCID?.trim();
  const orcidId = orcidRaw?.match(/(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$/)?.[1];
  const affName = env.REDLAB_AFFILIATION?.trim();
  const affUrl = env.REDLAB_AFFILIATION_URL?.trim();
  return {
    name,
    ...(orcidId ? { orcid: `https://orcid.org/${orcidId}` } : {}),
    ...(affName && affUrl && /^https?:\/\//.test(affUrl) ? { affiliation: { name: affName, url: affUrl } } : {})
  };
}

/** The record's license: REDLAB_LICENSE (an SPDX id such as CC-BY-4.0, or a URL). */
export function crateLicense(env: NodeJS.ProcessEnv): string | undefined {
  return env.REDLAB_LICENSE?.trim() || undefined;
}

/** This machine, and the engine's version and GPUs (never throws: what cannot be told is left out). */
export async function machineInfo(engine: Engine | undefined): Promise<{ machine: CrateMachine; engineVersion?: string }> {
  const cpus = os.cpus();
  const machine: CrateMachine = {
    hostname: os.hostname(),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpuModel: cpus[0]?.model?.trim() || undefined,
    cpuCount: cpus.length || undefined,
    memoryBytes: os.totalmem()
  };
  let engineVersion: string | undefined;
  if (engine) {
    const [status, gpus] = await Promise.all([
      engine.status().catch(() => undefined),
      engine.capabilities.gpus && engine.gpuInventory ? engine.gpuInventory().catch(() => []) : Promise.resolve([])
    ]);
    engineVersion = status?.version;
    if (gpus.length) machine.gpus = gpus;
    // An engine elsewhere (docker-ssh): the host is not this machine.
    if (engine.location) {
      machine.hostname = engine.location;
      delete machine.cpuModel;
      delete machine.cpuCount;
      delete machine.memoryBytes;
      delete machine.os;
    }
  }
  return { machine, engineVersion };
}
