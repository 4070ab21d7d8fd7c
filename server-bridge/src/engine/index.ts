// The local Docker engine and its parts (the bridge's /health reuses gpu and docker-client).
export * from './types';
export {
  DockerEngine,
  LogSkipper,
  formatDuration,
  wallClockMessage,
  VANISHED_MESSAGE,
  NEVER_STARTED_MESSAGE,
  NEVER_CREATED_MESSAGE,
  type DockerEngineOptions
} from './docker';
export { batchWorkDir, runWorkDir, captureFileName, defaultWorkRoot, checkRunId, type BatchWorkDir } from './workdir';
export { computeStats, sampleStats, type ContainerStatsSample, type DockerStatsJson, type StatsOptions } from './stats';
export { DockerUnavailableError, connectDocker, createDockerClient, dockerTarget, DEFAULT_DOCKER_SOCKET } from './docker-client';
export { ensureImage, ImageUnavailableError, type ResolvedImage } from './image';
export { readGpuInventory, parseGpuCsv, selectGpus, gpusForDeviceIds, describeInventory, GpuSelectionError, NVIDIA_SMI_ARGS, type Gpu, type GpuSelection } from './gpu';
export {
  buildCreateOptions,
  buildHostConfig,
  buildLabels,
  bindSpec,
  DEFAULT_RAM_MB,
  DEFAULT_PIDS_LIMIT,
  DEFAULT_LOG_MAX_SIZE,
  DEFAULT_LOG_MAX_FILE,
  LABEL_MANAGED,
  LABEL_RUN,
  LABEL_BATCH,
  type ContainerPlan,
  type BindMount
} from './host-config';
export {
  runContainer,
  resumeContainer,
  LineBuffer,
  TailBuffer,
  DockerDemuxer,
  LINE_FLUSH_MS,
  LINE_MAX_CHARS,
  type ContainerRunOptions,
  type ContainerRunOutcome,
  type ContainerResumeOptions,
  type ContainerResumeOutcome,
  type StreamName
} from './container';
export { stageInputs, listInputItems, checkListing } from './staging';
export { collectOutputs, planOutputs, matchGlob, resolveOutput, checkPattern, OutputError, type OutputSpec } from './outputs';
