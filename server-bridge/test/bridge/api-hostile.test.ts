// Malformed and malicious requests, sent raw (http.request: paths go out exactly as
// written, no URL normalisation): each gets a 4xx with a JSON `{error}` that says what
// is wrong, no stack trace, and the bridge keeps serving.
import * as http from 'http';
import { HELLO_RED, HELLO_YAML, TOKEN, createStoredRun, finishWithOutputs, startHarness, type Harness } from './helpers/api';

let h: Harness;
let runId: string;
beforeAll(async () => {
  h = await startHarness();
  runId = createStoredRun(h.store);
  finishWithOutputs(h.store, runId, { 'result.txt': 'the result\n' });
});
afterAll(async () => {
  await h.close();
});

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function raw(method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<Raw> {
  const u = new URL(h.url);
  return new Promise((resolve, reject) => {
    const all: Record<string, string> = { authorization: `Bearer ${TOKEN}`, ...headers };
    if (all.authorization === '') delete all.authorization; // '' means: send none
    const req = http.request({ method, hostname: u.hostname, port: u.port, path, headers: all }, res => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

const json = { 'content-type': 'application/json' };
const yaml = { 'content-type': 'application/yaml' };
const bomb = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`;
const withSettings = (extra: Record<string, unknown>) =>
  JSON.stringify({ ...HELLO_RED, container: { ...HELLO_RED.container, settings: { ...HELLO_RED.container.settings, ...extra } } }, null, 2);
const out = (name: string) => `/api/v1/runs/${'RUN'}/outputs/${name}`;

interface Case {
  name: string;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  status: number;
  error: RegExp;
}

const cases: Case[] = [
  // --- bodies ---
  { name: 'bad JSON', method: 'POST', path: '/api/v1/runs', headers: json, body: '{"red": ', status: 400, error: /not valid JSON/ },
  { name: 'JSON string instead of object', method: 'POST', path: '/api/v1/runs', headers: json, body: '"redVersion"', status: 400, error: /is a string: send an object/ },
  { name: 'JSON null', method: 'POST', path: '/api/v1/runs', headers: json, body: 'null', status: 400, error: /is null/ },
  { name: 'empty JSON body', method: 'POST', path: '/api/v1/runs', headers: json, body: '', status: 400, error: /body is empty/ },
  { name: 'variables of the wrong type', method: 'POST', path: '/api/v1/runs', headers: json, body: JSON.stringify({ red: HELLO_RED, variables: 'x' }), status: 400, error: /variables must be an object/ },
  { name: 'options a list', method: 'POST', path: '/api/v1/runs', headers: json, body: JSON.stringify({ red: HELLO_RED, options: [] }), status: 400, error: /"options" must be an object, not a list/ },
  { name: 'labels not text', method: 'POST', path: '/api/v1/runs', headers: json, body: JSON.stringify({ red: HELLO_RED, options: { labels: { a: { b: 1 } } } }), status: 400, error: /options\.labels\.a must be text/ },
  { name: '__proto__ key', method: 'POST', path: '/api/v1/runs', headers: json, body: '{"red": {"redVersion": "9"}, "__proto__": {"admin": true}}', status: 400, error: /"__proto__".*not allowed/ },
  { name: 'constructor.prototype key', method: 'POST', path: '/api/v1/runs', headers: json, body: '{"red": {"constructor": {"prototype": {"x": 1}}}}', status: 400, error: /"constructor".*not allowed/ },
  { name: 'deeply nested JSON (10000 levels)', method: 'POST', path: '/api/v1/runs', headers: json, body: '['.repeat(10000) + ']'.repeat(10000), status: 400, error: /nests deeper than 64 levels/ },
  { name: 'deeply nested JSON inside red', method: 'POST', path: '/api/v1/runs', headers: json, body: JSON.stringify({ red: { redVersion: '9', doc: JSON.parse('['.repeat(100) + ']'.repeat(100)) } }), status: 400, error: /nests deeper than 64 levels/ },
  { name: 'YAML bomb (billion laughs)', method: 'POST', path: '/api/v1/runs', headers: yaml, body: bomb, status: 422, error: /aliases expand too much/ },
  { name: 'YAML bomb as the wrapper\'s red text', method: 'POST', path: '/api/v1/runs', headers: json, body: JSON.stringify({ red: bomb }), status: 422, error: /aliases expand too much/ },
  { name: 'deeply nested YAML', method: 'POST', path: '/api/v1/runs', headers: yaml, body: 'a: ' + '['.repeat(5000) + ']'.repeat(5000), status: 422, error: /nesting is deeper than 64 levels/ },
  { name: 'YAML with a language tag', method: 'POST', path: '/api/v1/runs', headers: yaml, body: HELLO_YAML.replace('some_string: hello world', 'some_string: !!python/object:os.system "id"'), status: 422, error: /unsupported tag/ },
  { name: 'empty YAML', method: 'POST', path: '/api/v1/runs', headers: yaml, body: '', status: 422, error: /the file is empty/ },
  { name: 'container.settings.privileged', method: 'POST', path: '/api/v1/runs', headers: json, body: withSettings({ privileged: true }), status: 422, error: /container\.settings\.privileged: unknown key "privileged"/ },
  { name: 'container.settings.binds', method: 'POST', path: '/api/v1/runs', headers: json, body: withSettings({ binds: ['/:/host'] }), status: 422, error: /unknown key "binds"/ },
  { name: 'container.settings.hostConfig', method: 'POST', path: '/api/v1/runs', headers: json, body: withSettings({ hostConfig: { Privileged: true, NetworkMode: 'host' } }), status: 422, error: /unknown key "hostConfig"/ },
  { name: 'body over 10 MiB', method: 'POST', path: '/api/v1/runs', headers: json, body: JSON.stringify({ red: 'x'.repeat(10 * 1024 * 1024 + 10) }), status: 413, error: /larger than the limit of 10 MiB/ },
  { name: 'XML content type', method: 'POST', path: '/api/v1/runs', headers: { 'content-type': 'application/xml' }, body: '<red/>', status: 415, error: /"application\/xml" is not accepted here/ },
  { name: 'multipart form', method: 'POST', path: '/api/v1/runs', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: '--x--', status: 415, error: /not accepted here/ },
  { name: 'malformed content type', method: 'POST', path: '/api/v1/runs', headers: { 'content-type': ';;;' }, body: '{}', status: 415, error: /not accepted here|not valid/ },
  { name: 'body without content type', method: 'POST', path: '/api/v1/runs', headers: {}, body: '{}', status: 415, error: /no Content-Type is not accepted here/ },
  { name: 'tar body where a RED is expected', method: 'POST', path: '/api/v1/runs', headers: { 'content-type': 'application/x-tar' }, body: Buffer.alloc(1024), status: 415, error: /send application\/json or application\/yaml/ },
  // --- build specs ---
  { name: 'build file path with ..', method: 'POST', path: '/api/v1/images/build', headers: json, body: JSON.stringify({ dockerfile: 'FROM x', files: [{ path: 'a/../../etc/shadow', content: 'x' }] }), status: 400, error: /contains '\.\.'/ },
  { name: 'build file path with a backslash', method: 'POST', path: '/api/v1/images/build', headers: json, body: JSON.stringify({ dockerfile: 'FROM x', files: [{ path: '..\\..\\x', content: 'x' }] }), status: 400, error: /backslash/ },
  { name: 'build files not a list', method: 'POST', path: '/api/v1/images/build', headers: json, body: JSON.stringify({ dockerfile: 'FROM x', files: { a: 'x' } }), status: 400, error: /"files" must be a list/ },
  { name: 'build tar that is not a tar', method: 'POST', path: '/api/v1/images/build', headers: { 'content-type': 'application/x-tar' }, body: 'definitely not a tar archive'.repeat(40), status: 400, error: /not a valid tar archive|no file Dockerfile/ },
  { name: 'build apt.txt injection', method: 'POST', path: '/api/v1/images/build', headers: json, body: JSON.stringify({ environment: { aptTxt: 'curl\n$(reboot)' }, baseImage: 'redlab/busybox:1' }), status: 400, error: /is not a Debian package name/ },
  // --- ids and names ---
  { name: 'run id path traversal (encoded)', path: '/api/v1/runs/..%2F..%2Fetc%2Fpasswd', status: 404, error: /run ids are 26 characters/ },
  { name: 'run id path traversal (raw)', path: '/api/v1/runs/../../etc/passwd', status: 404, error: /no route|no run/ },
  { name: 'run id with a NUL', path: '/api/v1/runs/%00', status: 404, error: /run ids are 26 characters/ },
  { name: 'run id longer than any route allows', path: '/api/v1/runs/' + 'A'.repeat(300), status: 414, error: /longer than 256 characters/ },
  { name: 'long bad id without a token', path: '/api/v1/runs/' + 'A'.repeat(300), headers: { authorization: '' }, status: 401, error: /missing or wrong token/ },
  { name: 'bad percent-encoding without a token', path: '/api/v1/runs/%E0%A4%A', headers: { authorization: '' }, status: 401, error: /missing or wrong token/ },
  { name: 'run id in lower case', path: '/api/v1/runs/01arz3ndektsv4rrffq69g5fav', status: 404, error: /run ids are 26 characters/ },
  { name: 'logs of a traversal id', path: '/api/v1/runs/..%2F..%2F/logs', status: 404, error: /no run/ },
  { name: 'output name traversal (encoded)', path: out('..%2F..%2Fetc%2Fpasswd'), status: 404, error: /has no output "\.\.\/\.\.\/etc\/passwd"; outputs that exist: result\.txt/ },
  { name: 'output name traversal (dots)', path: out('%2e%2e'), status: 404, error: /has no output "\.\."/ },
  { name: 'output name __proto__', path: out('__proto__'), status: 404, error: /has no output "__proto__"/ },
  { name: 'output name absolute path', path: out('%2Fetc%2Fshadow'), status: 404, error: /has no output "\/etc\/shadow"/ },
  { name: 'malformed percent-encoding', path: '/api/v1/runs/%E0%A4%A', status: 400, error: /check its percent-encoding/ },
  // --- headers ---
  { name: 'huge header (20 KiB)', path: '/api/v1/health', headers: { 'x-big': 'a'.repeat(20 * 1024) }, status: 431, error: /headers are too large/ },
  { name: 'empty token', path: '/api/v1/health', headers: { authorization: 'Bearer ' }, status: 401, error: /missing or wrong token/ },
  { name: 'one-character token', path: '/api/v1/health', headers: { authorization: 'Bearer a' }, status: 401, error: /missing or wrong token/ },
  { name: 'token prefix', path: '/api/v1/health', headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}` }, status: 401, error: /missing or wrong token/ },
  { name: 'token with a suffix', path: '/api/v1/health', headers: { authorization: `Bearer ${TOKEN}0` }, status: 401, error: /missing or wrong token/ },
  { name: 'very long token', path: '/api/v1/health', headers: { authorization: `Bearer ${'x'.repeat(8000)}` }, status: 401, error: /missing or wrong token/ },
  { name: 'token twice', path: '/api/v1/health', headers: { authorization: `Bearer ${TOKEN} ${TOKEN}` }, status: 401, error: /missing or wrong token/ },
  { name: 'token in the query on HTTP', path: `/api/v1/health?token=${TOKEN}`, headers: { authorization: '' }, status: 401, error: /WebSocket URLs only/ },
  { name: 'foreign origin', path: '/api/v1/health', headers: { origin: 'https://attacker.example' }, status: 403, error: /not allowed/ },
  // --- query parameters ---
  { name: 'non-numeric since', path: '/api/v1/runs/RUN/logs?since=abc', status: 400, error: /since="abc" is not a whole number/ },
  { name: 'negative since', path: '/api/v1/runs/RUN/logs?since=-5', status: 400, error: /since="-5" is not a whole number/ },
  { name: 'fractional batch', path: '/api/v1/runs/RUN/logs?batch=1.5', status: 400, error: /batch="1\.5" is not a whole number/ },
  { name: 'huge batch', path: '/api/v1/runs/RUN/logs?batch=99999999999999999999', status: 400, error: /batch=.* is not a whole number/ },
  { name: 'maxBytes over the limit', path: '/api/v1/runs/RUN/logs?maxBytes=999999999', status: 400, error: /maxBytes=999999999 is out of range/ },
  { name: 'unknown stream', path: '/api/v1/runs/RUN/logs?stream=../../etc/passwd', status: 400, error: /stream=.* is not one of stdout, stderr/ },
  { name: 'limit zero', path: '/api/v1/runs?limit=0', status: 400, error: /limit=0 is out of range: give a whole number from 1 to 1000/ },
  { name: 'limit in exponent form', path: '/api/v1/runs?limit=1e3', status: 400, error: /limit="1e3" is not a whole number/ },
  { name: 'limit twice', path: '/api/v1/runs?limit=1&limit=2', status: 400, error: /given 2 times/ },
  { name: 'unknown state', path: '/api/v1/runs?state=running%3BDROP%20TABLE%20runs', status: 400, error: /unknown run state/ },
  { name: 'cursor not an id', path: '/api/v1/runs?cursor=%27%20OR%201%3D1%20--', status: 400, error: /cursor is not a cursor/ },
  { name: 'unknown query parameter', path: '/api/v1/runs?stat=running', status: 400, error: /unknown query parameter "stat"/ },
  { name: 'purge not a flag', method: 'DELETE', path: '/api/v1/runs/RUN?purge=perhaps', status: 400, error: /purge="perhaps" is not a flag/ },
  { name: 'batch of an output not a number', path: out('result.txt') + '?batch=x', status: 400, error: /batch="x" is not a whole number/ },
  // --- ranges ---
  { name: 'Range of another unit', path: out('result.txt'), headers: { range: 'items=0-1' }, status: 416, error: /is not a byte range/ },
  { name: 'Range garbage', path: out('result.txt'), headers: { range: 'bytes=abc' }, status: 416, error: /is malformed/ },
  { name: 'Range backwards', path: out('result.txt'), headers: { range: 'bytes=5-1' }, status: 416, error: /ends before it starts/ },
  { name: 'several ranges', path: out('result.txt'), headers: { range: 'bytes=0-1,3-4' }, status: 416, error: /only one range/ },
  { name: 'Range past the end', path: out('result.txt'), headers: { range: 'bytes=100-200' }, status: 416, error: /starts past the end/ },
  { name: 'Range bytes=-0', path: out('result.txt'), headers: { range: 'bytes=-0' }, status: 416, error: /asks for no bytes/ },
  // --- routes ---
  { name: 'unknown method on a route', method: 'PATCH', path: '/api/v1/runs', headers: json, body: '{}', status: 404, error: /no route PATCH \/api\/v1\/runs/ },
  { name: 'outside the API', path: '/etc/passwd', status: 404, error: /the API is under \/api\/v1/ }
];

test(`${cases.length} hostile requests: each a 4xx with a clear JSON error, and the bridge keeps serving`, async () => {
  expect(cases.length).toBeGreaterThanOrEqual(30);
  const failures: string[] = [];
  for (const c of cases) {
    const path = c.path.replace('RUN', runId);
    const r = await raw(c.method ?? 'GET', path, c.headers, c.body).catch((e: Error) => ({ status: 0, headers: {}, body: String(e) }) as Raw);
    let body: { error?: unknown } | undefined;
    try {
      body = JSON.parse(r.body);
    } catch {
      body = undefined;
    }
    const problems: string[] = [];
    if (r.status !== c.status) problems.push(`status ${r.status}, expected ${c.status}`);
    if (!String(r.headers['content-type'] ?? '').startsWith('application/json')) problems.push(`content-type ${r.headers['content-type']}`);
    if (typeof body?.error !== 'string' || !c.error.test(body.error)) problems.push(`error ${JSON.stringify(body?.error ?? r.body.slice(0, 200))} does not match ${c.error}`);
    if (/\bat .*\.(ts|js):\d+/.test(r.body) || /"stack"/.test(r.body)) problems.push('leaks a stack trace');
    if (problems.length) failures.push(`${c.name}: ${problems.join('; ')}`);
    // Still serving after each one.
    const health = await raw('GET', '/api/v1/health');
    if (health.status !== 200) failures.push(`${c.name}: /health answered ${health.status} afterwards`);
  }
  expect(failures).toEqual([]);
  // Nothing hostile became a run, and no secret reached the log.
  expect(h.store.listRuns().runs.map(r => r.id)).toEqual([runId]);
  expect(h.logs.join('\n')).not.toContain(TOKEN);
  const health = await raw('GET', '/api/v1/health');
  expect([health.status, JSON.parse(health.body).status]).toEqual([200, 'ok']);
}, 60_000);
