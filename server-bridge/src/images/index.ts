// Image builds (from a Dockerfile and context, or from an environment spec) and the
// list of local images usable for runs.
export { buildImage, prepareBuild, BUILD_REPOSITORY, BUILD_LABEL } from './build';
export type { PreparedBuild } from './build';
export { environmentDockerfile, parseAptTxt } from './environment';
export type { EnvironmentDockerfile, EnvironmentDockerfileOptions } from './environment';
export { listImages } from './list';
export type { ListImagesOptions } from './list';
export {
  normalizeContextPath,
  entriesFromFiles,
  entriesFromTar,
  contextHash,
  packContext,
  DEFAULT_MAX_CONTEXT_BYTES,
  MAX_DOCKERFILE_BYTES,
  DOCKERFILE_NAME
} from './context';
export type { ContextEntry } from './context';
export * from './types';
