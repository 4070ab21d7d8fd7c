// red-connector-http-archive, built in: as Curious Containers' connector of that name, receive-dir
// only: download one archive (red-connector-http's access fields plus `archiveFormat`: zip, tar,
// gztar, bztar or xztar, the names of Python's shutil) and unpack it as the Directory. The download
// goes to a file beside the destination (streamed, never held in memory), is unpacked by
// unpack-archive.ts (which refuses names and links that leave the folder, special files and archive
// bombs) and removed. A `listing` is checked afterwards by staging, as CC uses it: for verification only.
import { rm } from 'fs/promises';
import { fetchToFile, parseHttpAccess, redactUrl, type HttpAccess } from './http';
import { HostPolicy } from './host-policy';
import { ConnectorError, type ConnectorContext, type InputConnector, type InputStageRequest, type StagedInput } from './types';
import { ARCHIVE_FORMATS, ArchiveRefusedError, unpackArchive, unpackLimitsFromEnv, type ArchiveFormat, type UnpackLimits } from './unpack-archive';

export const HTTP_ARCHIVE_CONNECTOR = 'red-connector-http-archive';

export interface HttpArchiveAccess extends HttpAccess {
  archiveFormat: ArchiveFormat;
}

const ACCESS_KEYS = ['url', 'method', 'auth', 'disableSSLVerification', 'archiveFormat'];

/** Checks an access object as CC's red-connector-http-archive schema does; `where` names the input in errors. */
export function parseHttpArchiveAccess(access: Record<string, unknown> | undefined, where: string): HttpArchiveAccess {
  const bad = (msg: string) => new ConnectorError(`${where} (${HTTP_ARCHIVE_CONNECTOR}): ${msg}`);
  if (!access || typeof access !== 'object') throw bad('connector.access is missing; it needs at least {url: ..., archiveFormat: ...}');
  const extra = Object.keys(access).filter(k => !ACCESS_KEYS.includes(k));
  if (extra.length) throw bad(`unknown access key${extra.length > 1 ? 's' : ''} ${extra.join(', ')}; allowed: ${ACCESS_KEYS.join(', ')}`);
  const { archiveFormat, ...httpFields } = access;
  const http = parseHttpAccess(httpFields, where, HTTP_ARCHIVE_CONNECTOR);
  if (archiveFormat === undefined) throw bad(`access.archiveFormat is missing; say which archive the URL gives: ${ARCHIVE_FORMATS.join(', ')}`);
  if (!(ARCHIVE_FORMATS as readonly unknown[]).includes(archiveFormat)) {
    throw bad(`access.archiveFormat must be one of ${ARCHIVE_FORMATS.join(', ')} (e.g. gztar for .tar.gz), not ${JSON.stringify(archiveFormat)}`);
  }
  return { ...http, archiveFormat: archiveFormat as ArchiveFormat };
}

/**
 * red-connector-http-archive (input, Directory) reaching only the hosts `policy` allows; `limits`
 * bound what one archive may unpack to (default: REDLAB_ARCHIVE_MAX_BYTES / _ENTRIES, read at each use).
 */
export function createHttpArchiveConnector(policy: HostPolicy = new HostPolicy(), limits?: UnpackLimits): InputConnector {
  return {
    command: HTTP_ARCHIVE_CONNECTOR,
    classes: ['Directory'],
    async stage(req: InputStageRequest, ctx: ConnectorContext): Promise<StagedInput> {
      const where = `input ${req.label}`;
      const access = parseHttpArchiveAccess(req.value.connector.access, where);
      if (req.value.connector.mount) throw new ConnectorError(`${where} (${HTTP_ARCHIVE_CONNECTOR}): mount: true cannot mount an archive; remove it to download and unpack it`);
      let bounds: UnpackLimits;
      try {
        bounds = limits ?? unpackLimitsFromEnv();
      } catch (err) {
        throw new ConnectorError(`${where} (${HTTP_ARCHIVE_CONNECTOR}): the bridge's archive limit ${(err as Error).message}; fix it where the bridge is started`);
      }
      const archive = `${req.dest}.archive`;
      try {
        await fetchToFile(access.url, archive, access, ctx, policy, where);
        try {
          const { entries, bytes } = await unpackArchive(archive, access.archiveFormat, req.dest, bounds, ctx.signal);
          ctx.onInfo?.(`${where}: unpacked ${entries} entries (${bytes} bytes) from ${redactUrl(access.url)}`);
        } catch (err) {
          await rm(req.dest, { recursive: true, force: true });
          if (ctx.signal?.aborted) throw new ConnectorError(`${where}: cancelled`);
          if (err instanceof ArchiveRefusedError) throw new ConnectorError(`${where} (${HTTP_ARCHIVE_CONNECTOR}): ${redactUrl(access.url)}: ${err.message}`);
          throw new ConnectorError(
            `${where} (${HTTP_ARCHIVE_CONNECTOR}): cannot unpack ${redactUrl(access.url)} as ${access.archiveFormat}: ${(err as Error).message}; ` +
              'check connector.access.archiveFormat and that the archive on the server is whole'
          );
        }
      } finally {
        await rm(archive, { force: true });
      }
      return { hostPath: req.dest, copied: true, ...(req.value.listing ? { listing: req.value.listing } : {}) };
    }
  };
}

/** With the default policy: loopback, link-local and metadata addresses refused, nothing allowed extra. */
export const httpArchiveInputConnector = createHttpArchiveConnector();
