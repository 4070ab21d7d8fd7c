// redlab-connector-local: a host file or folder ({path}) used in place. The real
// path (symlinks followed) must lie under one of RunRequest.allowedRoots; relative
// paths resolve against the RED file's folder. Nothing is copied: the engine
// bind-mounts it read-only, unless the path cannot be written as a Docker bind
// source (it contains ':'), in which case it is copied into the work folder.
import { cp, stat } from 'fs/promises';
import { PathNotAllowedError, resolveUnderRoots } from '../util/fs-safety';
import { ConnectorError, type ConnectorContext, type InputConnector, type InputStageRequest, type StagedInput } from './types';

export const LOCAL_CONNECTOR = 'redlab-connector-local';

export const localInputConnector: InputConnector = {
  command: LOCAL_CONNECTOR,
  classes: ['File', 'Directory'],
  async stage(req: InputStageRequest, ctx: ConnectorContext): Promise<StagedInput> {
    const where = `input ${req.label}`;
    const access = req.value.connector.access ?? {};
    const extra = Object.keys(access).filter(k => k !== 'path');
    if (extra.length) throw new ConnectorError(`${where} (${LOCAL_CONNECTOR}): unknown access key${extra.length > 1 ? 's' : ''} ${extra.join(', ')}; it takes only {path: ...}`);
    const p = access.path;
    if (typeof p !== 'string' || !p) throw new ConnectorError(`${where} (${LOCAL_CONNECTOR}): access.path must be a host path (relative to the RED file's folder, or absolute)`);
    let real: string;
    try {
      real = await resolveUnderRoots(p, ctx.baseDir, ctx.allowedRoots, where);
    } catch (err) {
      if (err instanceof PathNotAllowedError) throw new ConnectorError(err.message);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') throw new ConnectorError(`${where}: ${p} does not exist (relative paths start at ${ctx.baseDir}); check connector.access.path`);
      throw new ConnectorError(`${where}: cannot read ${p}: ${(err as Error).message}`);
    }
    const st = await stat(real);
    const want = req.value.class;
    if (want === 'File' && !st.isFile()) throw new ConnectorError(`${where}: ${real} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}, but the input is a File`);
    if (want === 'Directory' && !st.isDirectory()) throw new ConnectorError(`${where}: ${real} is not a folder, but the input is a Directory`);
    if (real.includes(':')) {
      ctx.onInfo?.(`${where}: ${real} has ':' in its path, which a Docker bind mount cannot take; copying it`);
      await cp(real, req.dest, { recursive: true, dereference: true, errorOnExist: true });
      return { hostPath: req.dest, copied: true };
    }
    return { hostPath: real, copied: false };
  }
};
