// The RED core's public face: pure TypeScript shared by the frontend, the bridge and the CLI.
export * from './types';
export * from './run';
export * from './parse';
export * from './validate';
export { splitCwlType } from './cwl-type';
export * from './image-ref';
export * from './upgrade';
export * from './variables';
export * from './mask';
export * from './batches';
export * from './paths';
export * from './command';
export * from './glob';
export * from './convert';
export * from './pyformat';
export * from './bridge-api';
export * from './limits';
export * from './connector-fields';
