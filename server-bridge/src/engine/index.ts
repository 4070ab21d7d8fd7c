// The local Docker engine and its parts (the bridge's /health reuses gpu and docker-client).
export * from './types';
export { DockerEngine, type DockerEngineOptions } from './docker';
export { DockerUnavailableError, connectDocker, createDockerClient, dockerTarget, DEFAULT_DOCKER_SOCKET } from './docker-client';
export { ensureImage, ImageUnavailableError, type ResolvedImage } from './image';
export { readGpuInventory, parseGpuCsv, selectGpus, describeInventory, GpuSelectionError, NVIDIA_SMI_ARGS, type Gpu, type GpuSelection } from './gpu';
export {
  buildCreateOptions,
  buildHostConfig,
  buildLabels,
  bindSpec,
  DEFAULT_RAM_MB,
  DEFAULT_PIDS_LIMIT,
  LABEL_MANAGED,
  LABEL_RUN,
  LABEL_BATCH,
  type ContainerPlan,
  type BindMount
} from './host-config';
export { runContainer, LineBuffer, TailBuffer, type ContainerRunOptions, type ContainerRunOutcome } from './container';
export { stageInputs, listInputItems, checkListing, parseCwlType } from './staging';
export { collectOutputs, planOutputs, matchGlob, resolveOutput, checkPattern, OutputError, type OutputSpec } from './outputs';
