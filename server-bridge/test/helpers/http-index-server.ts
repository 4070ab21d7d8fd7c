// An HTTP server for httpdirfs (mount: true with red-connector-http): folders answer
// with an Apache-like index page (what httpdirfs parses), files answer HEAD and Range
// requests (httpdirfs reads in segments); basic auth when asked.
import * as http from 'http';
import type { AddressInfo } from 'net';

/**
 * An HTTP server whose folders answer with an Apache-like index page (what httpdirfs
 * reads) and whose files answer HEAD and Range requests; basic auth when `auth` is given.
 */
export async function startIndexServer(files: Record<string, string | Buffer>, auth?: { username: string; password: string }): Promise<{ url: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (auth && req.headers.authorization !== 'Basic ' + Buffer.from(`${auth.username}:${auth.password}`).toString('base64')) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="t"' }).end();
      return;
    }
    const p = decodeURIComponent((req.url ?? '/').split('?')[0]).replace(/^\//, '');
    if (p === '' || p.endsWith('/')) {
      const names = new Set<string>();
      for (const f of Object.keys(files)) if (f.startsWith(p)) names.add(f.slice(p.length).replace(/\/.*$/, '/'));
      if (!names.size && p !== '') return void res.writeHead(404).end();
      const links = [...names].sort().map(n => `<tr><td><a href="${encodeURIComponent(n.replace(/\/$/, ''))}${n.endsWith('/') ? '/' : ''}">${n}</a></td></tr>`);
      const body = `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n<html><head><title>Index of /${p}</title></head><body><h1>Index of /${p}</h1><table><tr><th><a href="?C=N;O=D">Name</a></th></tr><tr><td><a href="/">Parent Directory</a></td></tr>${links.join('')}</table></body></html>\n`;
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(body) });
      return void res.end(req.method === 'HEAD' ? undefined : body);
    }
    const data = files[p];
    if (data === undefined) {
      if (Object.keys(files).some(f => f.startsWith(p + '/'))) return void res.writeHead(301, { location: `/${p}/` }).end();
      return void res.writeHead(404).end();
    }
    const buf = Buffer.from(data);
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const headers = { 'content-type': 'application/octet-stream', 'accept-ranges': 'bytes', 'last-modified': new Date(0).toUTCString() };
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(range[2] ? Number(range[2]) : buf.length - 1, buf.length - 1);
      if (start >= buf.length) return void res.writeHead(416, { 'content-range': `bytes */${buf.length}` }).end();
      res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${buf.length}`, 'content-length': end - start + 1 });
      return void res.end(req.method === 'HEAD' ? undefined : buf.subarray(start, end + 1));
    }
    res.writeHead(200, { ...headers, 'content-length': buf.length });
    res.end(req.method === 'HEAD' ? undefined : buf);
  });
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise(r => {
        server.closeAllConnections();
        server.close(() => r());
      })
  };
}

