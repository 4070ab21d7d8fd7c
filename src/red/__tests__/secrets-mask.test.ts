// Every form a secret takes on its way into a message is masked: the encoders are
// checked against the platform's own (URL, encodeURIComponent, Buffer, JSON), not
// against hand-written expectations.
import { MASK, SecretMasker, SecretRegistry, asciiHost, base64, punycode, secretForms, utf8Bytes } from '../mask';
import { formatCommandLine } from '../command';
import { registerSecrets } from '../variables';
import type { Red } from '../types';

const SPACE = 'pa ss/wörd+Ä&=?#"\\\'x';
const HOSTY = 'Tenant-Sëcret-Host';

function masker(...secrets: string[]): SecretMasker {
  const m = new SecretMasker();
  secrets.forEach(s => m.add(s));
  return m;
}

/** Every encoded form the platform produces for `s`, each embedded in surrounding text. */
function platformForms(s: string): Record<string, string> {
  const u = new URL('http://h.example/');
  u.username = s;
  u.password = s;
  const withPath = new URL('http://h.example/');
  withPath.pathname = '/a/' + s;
  const withQuery = new URL('http://h.example/?q=' + s + '#' + s);
  return {
    raw: s,
    lowercased: s.toLowerCase(),
    encodeURIComponent: encodeURIComponent(s),
    encodeURIComponentLowerHex: encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, x => x.toLowerCase()),
    encodeURI: encodeURI(s),
    userinfo: u.href,
    path: withPath.href,
    queryAndFragment: withQuery.href,
    searchParams: new URLSearchParams({ q: s }).toString(),
    json: JSON.stringify({ s }),
    jsonInJson: JSON.stringify({ line: JSON.stringify({ s }) }),
    jsonAscii: JSON.stringify(s).replace(/[\u007f-\uffff]/g, c => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')),
    base64: Buffer.from(s).toString('base64'),
    base64url: Buffer.from(s).toString('base64url'),
    base64InText: Buffer.from(`some prefix ${s} and suffix`).toString('base64'),
    shell: formatCommandLine(['echo', s, `--password=${s}`])
  };
}

describe('SecretMasker', () => {
  test.each([SPACE, 'hunter2-very-secret', 'Ünïcödé-パスワード'])('masks every encoding of %j', secret => {
    const m = masker(secret);
    for (const [name, encoded] of Object.entries(platformForms(secret))) {
      const text = `before ${encoded} after`;
      const masked = m.mask(text);
      expect({ name, masked: masked.includes(MASK) }).toEqual({ name, masked: true });
      // Nothing of the secret survives in any form (checked with the platform's encoders again).
      for (const other of Object.values(platformForms(secret))) expect({ name, leaked: masked.includes(other) }).toEqual({ name, leaked: false });
    }
  });

  test('masks a non-ASCII host as a URL parser writes it (lowercased, punycode)', () => {
    const m = masker(HOSTY);
    const href = new URL(`https://${HOSTY}.example.org/x`).href;
    expect(href).toContain('xn--');
    expect(m.mask(href)).toBe(`https://${MASK}.example.org/x`);
    expect(m.mask(`https://${HOSTY.toLowerCase()}/`)).toBe(`https://${MASK}/`);
    expect(asciiHost(HOSTY)).toBe(new URL(`http://${HOSTY}/`).hostname);
  });

  test('the pure encoders agree with the platform', () => {
    for (const s of ['', 'a', 'ab', 'abc', 'äöü€𝄞', SPACE]) {
      expect(utf8Bytes(s)).toEqual([...Buffer.from(s, 'utf8')]);
      expect(base64(utf8Bytes(s))).toBe(Buffer.from(s).toString('base64'));
    }
    // RFC 3492 sample strings.
    expect(punycode('bücher')).toBe('bcher-kva');
    for (const label of ['münchen', 'ünicode', 'パスワード', 'tenant-sëcret', 'ａｂｃ-ü']) expect('xn--' + punycode(label.normalize('NFKC'))).toBe(new URL(`http://${label}/`).hostname);
  });

  test('masks base64 of user:password (basic auth) and of the password alone', () => {
    const m = new SecretMasker();
    m.addBasicAuth('alice', 'pw with space');
    const header = 'Basic ' + Buffer.from('alice:pw with space').toString('base64');
    expect(m.mask(header)).toBe(`Basic ${MASK}`);
    expect(m.mask(Buffer.from('pw with space').toString('base64'))).toBe(MASK);
    // A short password (< 6 bytes) is still found in the exact header.
    const short = new SecretMasker();
    short.addBasicAuth('bob', 'abc');
    expect(short.mask('Basic ' + Buffer.from('bob:abc').toString('base64'))).toBe(`Basic ${MASK}`);
  });

  test('masks inside any base64 text whatever comes before the secret', () => {
    const m = masker('s3cret-value');
    for (const prefix of ['', 'x', 'xy', 'someone:', 'ab:']) {
      const b = Buffer.from(`${prefix}s3cret-value`).toString('base64');
      expect(m.mask(b)).toContain(MASK);
      expect(m.mask(b).length).toBeLessThan(b.length);
    }
  });

  test('shell-quoted as formatCommandLine writes it', () => {
    const secret = "it's a secret";
    const line = formatCommandLine(['run', secret, `--token=${secret}`]);
    expect(masker(secret).mask(line)).not.toMatch(/secret/);
  });

  test('short values are not registered; plain text stays as it is', () => {
    const m = masker('ab', 'p4ssw0rd');
    expect(m.size).toBe(1);
    expect(m.mask('ab cd p4ssw0rd')).toBe(`ab cd ${MASK}`);
    expect(m.mask('nothing here: 0123456789abcdef')).toBe('nothing here: 0123456789abcdef');
  });

  test('a secret containing another is masked whole', () => {
    expect(masker('abc', 'xxabcxx').mask('1 xxabcxx 2 abc')).toBe(`1 ${MASK} 2 ${MASK}`);
  });

  test('maskValue masks strings and keys deep inside', () => {
    const m = masker('top-secret');
    expect(m.maskValue({ a: ['x top-secret', { 'top-secret': 1 }], n: 2, b: true, z: null })).toEqual({ a: [`x ${MASK}`, { [MASK]: 1 }], n: 2, b: true, z: null });
  });

  test('secretForms has no form shorter than 3 characters', () => {
    expect(secretForms('abc').every(f => f.length >= 3)).toBe(true);
  });
});

describe('MaskingStream', () => {
  test('masks a secret split across pieces, and holds back only what may be one', () => {
    const stream = masker('hunter2-secret').stream();
    let out = stream.write('line 1\npass: hun');
    expect(out).toBe('line 1\npass: ');
    out += stream.write('ter2-sec');
    out += stream.write('ret done\nplain ');
    expect(stream.pending).toBe(0);
    out += stream.end();
    expect(out).toBe(`line 1\npass: ${MASK} done\nplain `);
  });

  test('every split point of an encoded secret', () => {
    const secret = 'pa ss wörd';
    const text = `x=${encodeURIComponent(secret)}&y=${secret}\n`;
    for (let i = 0; i <= text.length; i++) {
      const s = masker(secret).stream();
      const out = s.write(text.slice(0, i)) + s.write(text.slice(i)) + s.end();
      expect(out).toBe(`x=${MASK}&y=${MASK}\n`);
    }
  });

  test('an empty masker passes text through at once', () => {
    const s = new SecretMasker().stream();
    expect(s.write('abc')).toBe('abc');
    expect(s.end()).toBe('');
  });
});

describe('SecretRegistry', () => {
  test('masks with the secrets of every held masker until released', () => {
    const reg = new SecretRegistry();
    reg.hold('a', masker('alpha-secret'));
    const b = masker('beta-secret');
    reg.hold('b', b);
    expect(reg.mask('alpha-secret beta-secret')).toBe(`${MASK} ${MASK}`);
    b.add('gamma-secret'); // added after it was handed over
    expect(reg.mask('gamma-secret')).toBe(MASK);
    reg.release('a');
    expect(reg.mask('alpha-secret beta-secret')).toBe(`alpha-secret ${MASK}`);
  });
});

describe('registerSecrets: basic auth', () => {
  const red = (access: Record<string, unknown>): Red =>
    ({
      redVersion: '9',
      cli: { cwlVersion: 'v1.0', class: 'CommandLineTool', baseCommand: 'x', inputs: { f: { type: 'File' } }, outputs: {} },
      inputs: { f: { class: 'File', connector: { command: 'red-connector-http', access } } },
      outputs: {},
      container: { engine: 'docker', settings: { image: { url: 'img' }, ram: 64 } }
    }) as unknown as Red;

  test('the Authorization header of auth {username, password} is masked, the username alone is not', () => {
    const m = new SecretMasker();
    registerSecrets(red({ url: 'https://h/x', auth: { username: 'alice', password: '{{pw}}' } }), { pw: 'pw 1' }, m);
    expect(m.mask('Authorization: Basic ' + Buffer.from('alice:pw 1').toString('base64'))).toBe(`Authorization: Basic ${MASK}`);
    expect(m.mask('user alice')).toBe('user alice');
  });

  test('user info in a URL', () => {
    const m = new SecretMasker();
    registerSecrets(red({ url: 'https://{{u}}:{{p}}@h/x' }), { u: 'bob', p: 'p@ss word' }, m);
    expect(m.mask(Buffer.from('bob:p@ss word').toString('base64'))).toBe(MASK);
    expect(m.mask(new URL('https://h/').href.replace('//', `//bob:${encodeURIComponent('p@ss word')}@`))).toBe(`https://${MASK}:${MASK}@h/`);
  });
});
