// The RED core modules the engine builds on, in one place.
export { CONTAINER_INPUTS_DIR, CONTAINER_OUTPUTS_DIR, inputContainerPath, toAbsoluteContainerPath } from '../../../src/red/paths';
export { toBatches } from '../../../src/red/batches';
export { buildCommand, formatCommandLine, type ContainerPathOf } from '../../../src/red/command';
export { resolveGlobPattern, assertSafeGlob, globToRegExp } from '../../../src/red/glob';
