// A minimal Docker Registry v2 on 127.0.0.1 (Docker treats loopback registries
// as insecure-allowed), serving one image made from a local one with
// `docker save`: lets tests run a real `docker pull` with progress, basic auth
// and a RepoDigest while no public registry is reachable.
import { createHash } from 'crypto';
import type Docker from 'dockerode';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { extract } from 'tar-stream';
import { gzipSync } from 'zlib';

export interface LocalRegistry {
  /** host:port, e.g. 127.0.0.1:41234 */
  host: string;
  /** The manifest digest (what RepoDigests will show). */
  manifestDigest: string;
  requests: string[];
  close(): Promise<void>;
}

const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

async function saveImage(docker: Docker, image: string): Promise<Map<string, Buffer>> {
  const stream = (await docker.getImage(image).get()) as NodeJS.ReadableStream;
  const files = new Map<string, Buffer>();
  await new Promise<void>((resolve, reject) => {
    const ex = extract();
    ex.on('entry', (header, s, next) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: unknown) => chunks.push(c as Buffer));
      s.on('end', () => {
        if (header.type === 'file') files.set(header.name, Buffer.concat(chunks));
        next();
      });
      s.resume();
    });
    ex.on('finish', resolve);
    ex.on('error', reject);
    stream.pipe(ex);
  });
  return files;
}

export async function startLocalRegistry(docker: Docker, source: string, repo: string, opts: { auth?: { username: string; password: string } } = {}): Promise<LocalRegistry> {
  const files = await saveImage(docker, source);
  const saved = JSON.parse(String(files.get('manifest.json')))[0] as { Config: string; Layers: string[] };
  const config = files.get(saved.Config) as Buffer;
  const blobs = new Map<string, Buffer>([[sha(config), config]]);
  const layers = saved.Layers.map(l => {
    const gz = gzipSync(files.get(l) as Buffer);
    blobs.set(sha(gz), gz);
    return { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', size: gz.length, digest: sha(gz) };
  });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', size: config.length, digest: sha(config) },
      layers
    })
  );
  const manifestDigest = sha(manifest);
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    if (opts.auth) {
      const want = 'Basic ' + Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64');
      if (req.headers.authorization !== want) {
        res.statusCode = 401;
        res.setHeader('WWW-Authenticate', 'Basic realm="redlab-test-registry"');
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
        return;
      }
    }
    const url = req.url ?? '';
    if (url === '/v2/' || url === '/v2') {
      res.end('{}');
      return;
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url);
    if (!m || m[1] !== repo) {
      res.statusCode = 404;
      res.end(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] }));
      return;
    }
    const body = m[2] === 'manifests' ? (m[3] === manifestDigest || !m[3].startsWith('sha256:') ? manifest : undefined) : blobs.get(m[3]);
    if (!body) {
      res.statusCode = 404;
      res.end(JSON.stringify({ errors: [{ code: m[2] === 'manifests' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', message: 'unknown' }] }));
      return;
    }
    res.setHeader('Content-Type', m[2] === 'manifests' ? 'application/vnd.docker.distribution.manifest.v2+json' : 'application/octet-stream');
    res.setHeader('Docker-Content-Digest', m[2] === 'manifests' ? manifestDigest : m[3]);
    res.setHeader('Content-Length', String(body.length));
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    manifestDigest,
    requests,
    close: () =>
      new Promise(r => {
        server.closeAllConnections?.();
        server.close(() => r());
      })
  };
}
