// redlab-connector-local: a host file or folder ({path}). Its real path (symlinks
// followed) must lie under one of RunRequest.allowedRoots; relative paths resolve
// against the RED file's folder. What gets bound is never the user's path (a path
// checked and then handed to Docker can be swapped for a symlink in between): the
// input is opened, checked again on the open descriptor, and pinned into the batch's
// private inputs folder (copied, or hard-linked when large; see util/pinned-input.ts).
// The container sees, and the FileRecord hashes, that pinned copy.
import { stat } from 'fs/promises';
import { PathNotAllowedError, resolveUnderRoots } from '../util/fs-safety';
import { DEFAULT_LINK_MIN_BYTES, PinError, pinLocalInput } from '../util/pinned-input';
import { ConnectorError, type ConnectorContext, type InputConnector, type InputStageRequest, type StagedInput } from './types';

export const LOCAL_CONNECTOR = 'redlab-connector-local';

export interface LocalConnectorOptions {
  /** Files from this size up are hard-linked into the work folder when they can be; smaller ones are copied. */
  linkMinBytes?: number;
}

export function createLocalInputConnector(opts: LocalConnectorOptions = {}): InputConnector {
  return {
    command: LOCAL_CONNECTOR,
    classes: ['File', 'Directory'],
    async stage(req: InputStageRequest, ctx: ConnectorContext): Promise<StagedInput> {
      const where = `input ${req.label}`;
      const access = req.value.connector.access ?? {};
      const extra = Object.keys(access).filter(k => k !== 'path');
      if (extra.length) throw new ConnectorError(`${where} (${LOCAL_CONNECTOR}): unknown access key${extra.length > 1 ? 's' : ''} ${extra.join(', ')}; it takes only {path: ...}`);
      const p = access.path;
      if (typeof p !== 'string' || !p) throw new ConnectorError(`${where} (${LOCAL_CONNECTOR}): access.path must be a host path (relative to the RED file's folder, or absolute)`);
      try {
        const real = await resolveUnderRoots(p, ctx.baseDir, ctx.allowedRoots, where);
        // The class by path first, for the plain mistakes; pinLocalInput checks again on the opened file.
        const st = await stat(real);
        const want = req.value.class;
        if (want === 'File' && !st.isFile()) throw new ConnectorError(`${where}: ${real} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}, but the input is a File`);
        if (want === 'Directory' && !st.isDirectory()) throw new ConnectorError(`${where}: ${real} is not a folder, but the input is a Directory`);
        const pinned = await pinLocalInput(real, want, req.dest, ctx.allowedRoots, where, {
          linkMinBytes: ctx.privateCopies ? Infinity : (opts.linkMinBytes ?? DEFAULT_LINK_MIN_BYTES),
          onInfo: ctx.onInfo,
          signal: ctx.signal,
          onChecked: ctx.onChecked
        });
        return { hostPath: pinned.path, copied: true };
      } catch (err) {
        if (err instanceof ConnectorError) throw err;
        if (err instanceof PathNotAllowedError || err instanceof PinError) throw new ConnectorError(err.message);
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw new ConnectorError(`${where}: ${p} does not exist (relative paths start at ${ctx.baseDir}); check connector.access.path`);
        throw new ConnectorError(`${where}: cannot read ${p}: ${(err as Error).message}`);
      }
    }
  };
}

export const localInputConnector: InputConnector = createLocalInputConnector();
