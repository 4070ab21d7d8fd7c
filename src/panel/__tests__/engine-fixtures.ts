// Engines as GET /health lists them, for the panel's tests: docker, the process engine
// (not isolated) and a remote engine that cannot be reached.
import type { EngineCapabilities, EngineInfo } from '../../red';

export const caps = (over: Partial<EngineCapabilities> = {}): EngineCapabilities => ({
  isolated: true,
  gpus: true,
  gpusByMemory: true,
  batches: true,
  cancel: true,
  inputConnectors: ['redlab-connector-local', 'red-connector-http'],
  outputConnectors: [],
  imagePull: true,
  imageBuilds: true,
  bindMounts: true,
  reattach: true,
  stats: true,
  sessions: false,
  ...over
});
export const docker: EngineInfo = { name: 'docker', available: true, version: '26.1.5', capabilities: caps() };
export const processEngine: EngineInfo = {
  name: 'process',
  available: true,
  note: 'not isolated: runs on this machine without a container (no image, no limits)',
  capabilities: caps({ isolated: false, gpus: false, gpusByMemory: false, imageBuilds: false, imagePull: false, inputConnectors: ['redlab-connector-local'] })
};
export const remote: EngineInfo = { name: 'docker-ssh', available: false, error: 'host gpu-box unreachable', capabilities: caps() };
/** A one-node Slurm with two fake GPUs, as the slurm engine reports it (version "Slurm 22.05.8", capacity). */
export const slurm: EngineInfo = {
  name: 'slurm',
  available: true,
  version: 'Slurm 22.05.8',
  note: 'runs each batch as a Slurm job; runtime charliecloud',
  capabilities: caps({ gpusByMemory: false, imageBuilds: false, bindMounts: false, reattach: false, stats: false }),
  capacity: { nodes: 1, nodesUp: 1, cpus: 4, gpus: 2, gpusFree: 2 }
};
/** A Kubernetes cluster without GPUs, one of three nodes down. */
export const kubernetes: EngineInfo = {
  name: 'kubernetes',
  available: true,
  version: 'v1.31.14',
  capabilities: caps({ gpusByMemory: false, imageBuilds: false, bindMounts: false }),
  capacity: { nodes: 3, nodesUp: 2, gpus: 0, gpusFree: 0 }
};
