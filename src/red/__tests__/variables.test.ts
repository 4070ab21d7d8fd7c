import * as fs from 'fs';
import * as path from 'path';
import { MASK, SecretMasker } from '../mask';
import { RedError, type Red, type SingleRed } from '../types';
import {
  MissingVariablesError,
  checkVariables,
  fillVariables,
  isProtectedKey,
  listVariables,
  maskRed,
  parseTemplate,
  registerSecrets
} from '../variables';

const FIXTURES = path.join(__dirname, 'fixtures', 'exec');
const load = (name: string): Red => JSON.parse(fs.readFileSync(path.join(FIXTURES, name), 'utf8')) as Red;

/** A small single RED whose connector sections are given by the test. */
function red(inputsAccess: Record<string, unknown>, extra: Record<string, unknown> = {}): SingleRed {
  return {
    redVersion: '9',
    cli: { cwlVersion: 'v1.0', class: 'CommandLineTool', baseCommand: 'cat', inputs: { f: { type: 'File', inputBinding: { position: 0 } } }, outputs: {} },
    inputs: { f: { class: 'File', connector: { command: 'red-connector-http', access: inputsAccess } } },
    container: { engine: 'docker', settings: { image: { url: 'alpine' } } },
    ...extra
  } as SingleRed;
}

describe('isProtectedKey', () => {
  test('password, privateKey and keys starting with _ are protected', () => {
    expect(['password', 'privateKey', '_token', '_'].map(isProtectedKey)).toEqual([true, true, true, true]);
    expect(['username', 'Password', 'passwords', 'private_key', 'url', 'a_b'].map(isProtectedKey)).toEqual([false, false, false, false, false, false]);
  });
});

describe('parseTemplate', () => {
  test('plain text', () => {
    expect(parseTemplate('https://x/y')).toEqual([{ text: 'https://x/y' }]);
  });
  test('a whole-string variable', () => {
    expect(parseTemplate('{{pw}}')).toEqual([{ variable: 'pw' }]);
  });
  test('variables embedded in text', () => {
    expect(parseTemplate('https://{{host}}:{{port}}/x')).toEqual([{ text: 'https://' }, { variable: 'host' }, { text: ':' }, { variable: 'port' }, { text: '/x' }]);
  });
  test('names are taken as written, spaces included', () => {
    expect(parseTemplate('{{ name }}')).toEqual([{ variable: ' name ' }]);
  });
  test('malformed strings give a message', () => {
    expect(parseTemplate('{{a')).toBe('"{{" is not closed by "}}"');
    expect(parseTemplate('a}}')).toBe('"}}" without a matching "{{"');
    expect(parseTemplate('{{a{{b}}')).toBe('"{{" opens a variable inside another variable');
    expect(parseTemplate('{{}}')).toBe('a variable name is empty ("{{}}")');
  });
  test('single braces are text', () => {
    expect(parseTemplate('{a} }')).toEqual([{ text: '{a} }' }]);
  });
});

describe('listVariables', () => {
  test('lists names in order of first use, with protection and paths', () => {
    expect(listVariables(load('wordcount.red.json'))).toEqual([
      { name: 'data_host', protected: false, paths: ['inputs.text.connector.access.url'] },
      { name: 'http_user', protected: false, paths: ['inputs.text.connector.access.auth.username'] },
      { name: 'http_password', protected: true, paths: ['inputs.text.connector.access.auth.password'] },
      { name: 'ssh_user', protected: false, paths: ['outputs.histogram.connector.access.auth.username'] },
      { name: 'ssh_key', protected: true, paths: ['outputs.histogram.connector.access.auth._privateKey'] }
    ]);
  });

  test('a variable used in several places lists every path, and batch paths carry the index', () => {
    expect(listVariables(load('sweep.red.json'))).toEqual([
      { name: 'ssh_user', protected: false, paths: ['batches.0.inputs.data.connector.access.auth.username', 'batches.1.inputs.data.connector.access.auth.username'] },
      { name: 'ssh_password', protected: true, paths: ['batches.0.inputs.data.connector.access.auth.password', 'batches.1.inputs.data.connector.access.auth.password'] }
    ]);
  });

  test('protected when any use is below a protected key', () => {
    const r = red({ url: 'https://{{secret}}/x', auth: { password: '{{secret}}' } });
    expect(listVariables(r)).toEqual([
      { name: 'secret', protected: true, paths: ['inputs.f.connector.access.url', 'inputs.f.connector.access.auth.password'] }
    ]);
  });

  test('everything below a protected key is protected, privateKey included', () => {
    const r = red({ privateKey: '{{k}}', _extra: { deep: ['{{d}}'] }, user: '{{u}}' });
    expect(listVariables(r).map(v => [v.name, v.protected])).toEqual([
      ['k', true],
      ['d', true],
      ['u', false]
    ]);
  });

  test('variables in lists get the list index in their path', () => {
    const r = red({ hosts: ['{{h1}}', 'x-{{h2}}'] });
    expect(listVariables(r)).toEqual([
      { name: 'h1', protected: false, paths: ['inputs.f.connector.access.hosts.0'] },
      { name: 'h2', protected: false, paths: ['inputs.f.connector.access.hosts.1'] }
    ]);
  });

  test('execution access and container image auth may hold variables', () => {
    const r = red(
      { url: 'https://x' },
      {
        container: { engine: 'docker', settings: { image: { url: 'registry/x', auth: { username: '{{reg_user}}', password: '{{reg_pw}}' } } } },
        execution: { engine: 'ccagency', settings: { access: { url: '{{agency_url}}', auth: { username: 'me', password: '{{agency_pw}}' } } } }
      }
    );
    expect(listVariables(r).map(v => `${v.name}:${v.protected}`)).toEqual(['reg_user:false', 'reg_pw:true', 'agency_url:false', 'agency_pw:true']);
  });

  test('a RED without variables lists none', () => {
    expect(listVariables(red({ url: 'https://x/y' }))).toEqual([]);
  });

  test('braces outside access/auth are a RedError naming the path', () => {
    const r = red({ url: 'x' }, { doc: 'see {{here}}' });
    expect(() => listVariables(r)).toThrow(RedError);
    expect(checkVariables(r)).toEqual([
      {
        path: 'doc',
        severity: 'error',
        message: '"{{" or "}}" found outside "access"/"auth": variables are only allowed in connector access and auth sections',
        fix: 'move the value below an "access" or "auth" key, or remove the braces'
      }
    ]);
  });

  test('malformed variables are a RedError naming the path', () => {
    expect(checkVariables(red({ url: 'https://{{host/x' }))).toEqual([
      { path: 'inputs.f.connector.access.url', severity: 'error', message: 'malformed variable in "https://{{host/x": "{{" is not closed by "}}"', fix: 'write variables as {{name}}' }
    ]);
  });

  test('protected keys outside access/auth are reported', () => {
    const r = red({ url: 'x' }, { _note: 'hi' });
    expect(checkVariables(r)).toEqual([
      { path: '_note', severity: 'error', message: 'protected key "_note" is only allowed below an "access" or "auth" key', fix: 'rename "_note" so that it does not start with "_"' }
    ]);
  });

  test('checkVariables finds nothing wrong in the fixtures', () => {
    expect(checkVariables(load('wordcount.red.json'))).toEqual([]);
    expect(checkVariables(load('sweep.red.json'))).toEqual([]);
  });
});

describe('fillVariables', () => {
  const values = { data_host: 'data.example.org', http_user: 'ann', http_password: 's3cret!', ssh_user: 'bob', ssh_key: '-----KEY-----' };

  test('replaces whole-string and embedded variables in a deep copy', () => {
    const original = load('wordcount.red.json') as SingleRed;
    const before = JSON.stringify(original);
    const filled = fillVariables(original, values) as SingleRed;
    expect(JSON.stringify(original)).toBe(before);
    expect(filled.inputs.text).toEqual({
      class: 'File',
      basename: 'moby.txt',
      connector: {
        command: 'red-connector-http',
        access: { url: 'https://data.example.org/corpus/moby.txt', auth: { username: 'ann', password: 's3cret!' } }
      }
    });
    expect((filled.outputs!.histogram.connector.access as { auth: unknown }).auth).toEqual({ username: 'bob', _privateKey: '-----KEY-----' });
    expect(filled.cli).toEqual(original.cli);
  });

  test('several variables in one string, and the same variable twice', () => {
    const r = red({ url: '{{scheme}}://{{host}}/{{host}}' });
    const filled = fillVariables(r, { scheme: 'https', host: 'h' }) as SingleRed;
    expect((filled.inputs.f as { connector: { access: unknown } }).connector.access).toEqual({ url: 'https://h/h' });
  });

  test('values are inserted literally (no further expansion)', () => {
    const r = red({ password: '{{pw}}' });
    const filled = fillVariables(r, { pw: '{{x}} $1 $& \\n' }) as SingleRed;
    expect((filled.inputs.f as unknown as { connector: { access: { password: string } } }).connector.access.password).toBe('{{x}} $1 $& \\n');
  });

  test('numbers and booleans outside strings are left alone', () => {
    const r = red({ port: 22, insecure: true, url: '{{u}}' });
    const filled = fillVariables(r, { u: 'x' }) as SingleRed;
    expect((filled.inputs.f as { connector: { access: unknown } }).connector.access).toEqual({ port: 22, insecure: true, url: 'x' });
  });

  test('missing values throw MissingVariablesError listing every missing name in order', () => {
    let err: unknown;
    try {
      fillVariables(load('wordcount.red.json'), { http_user: 'ann', ssh_key: 'k' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MissingVariablesError);
    expect((err as MissingVariablesError).names).toEqual(['data_host', 'http_password', 'ssh_user']);
    expect((err as Error).message).toBe('no value given for variables "data_host", "http_password", "ssh_user"');
  });

  test('one missing name reads in the singular', () => {
    expect(() => fillVariables(red({ url: '{{u}}' }), {})).toThrow('no value given for variable "u"');
  });

  test('an empty string is a given value; extra values are ignored', () => {
    const filled = fillVariables(red({ url: 'a{{u}}b' }), { u: '', other: 'x' }) as SingleRed;
    expect((filled.inputs.f as { connector: { access: unknown } }).connector.access).toEqual({ url: 'ab' });
  });

  test('a RED without variables comes back equal', () => {
    const r = red({ url: 'https://x' });
    expect(fillVariables(r, {})).toEqual(r);
  });

  test('misplaced variables are a RedError', () => {
    expect(() => fillVariables(red({ url: 'x' }, { doc: '{{d}}' }), { d: 'v' })).toThrow(RedError);
  });
});

describe('registerSecrets', () => {
  test('registers the value of every variable used, and literal values below protected keys', () => {
    const r = red({ url: 'https://{{host}}/x', auth: { username: '{{user}}', password: '{{pw}}' } }, {
      outputs: { o: { class: 'File', connector: { command: 'c', access: { token: 'not-protected-literal', _apiKey: 'literal-secret', password: 123456 } } } }
    });
    const masker = new SecretMasker();
    registerSecrets(r, { host: 'host.example', user: 'alice', pw: 'p4ssw0rd', unused: 'never-used' }, masker);
    expect(masker.mask('host.example alice p4ssw0rd literal-secret 123456 never-used not-protected-literal')).toBe(
      `${MASK} ${MASK} ${MASK} ${MASK} ${MASK} never-used not-protected-literal`
    );
    expect(masker.size).toBe(5);
  });

  test('works on a filled RED too (protected values are literal there)', () => {
    const template = red({ auth: { password: '{{pw}}' } });
    const filled = fillVariables(template, { pw: 'hunter22' });
    const masker = new SecretMasker();
    registerSecrets(filled, {}, masker);
    expect(masker.mask('pw=hunter22')).toBe(`pw=${MASK}`);
  });

  test('does not throw on malformed variables', () => {
    const masker = new SecretMasker();
    expect(() => registerSecrets(red({ password: '{{broken' }), {}, masker)).not.toThrow();
    expect(masker.mask('{{broken')).toBe(MASK);
  });
});

describe('maskRed', () => {
  test('masks values below protected keys, keeps unfilled references readable', () => {
    const r = red({ url: 'https://x', auth: { username: 'ann', password: 'plain-pw' }, privateKey: '{{key}}', _opts: { a: 'x', n: 5, on: true } });
    const masked = maskRed(r) as SingleRed;
    expect((masked.inputs.f as { connector: { access: unknown } }).connector.access).toEqual({
      url: 'https://x',
      auth: { username: 'ann', password: MASK },
      privateKey: '{{key}}',
      _opts: { a: MASK, n: MASK, on: true }
    });
    expect((r.inputs.f as unknown as { connector: { access: { auth: { password: string } } } }).connector.access.auth.password).toBe('plain-pw');
  });

  test('with the template, every filled string is masked too', () => {
    const template = red({ url: 'https://{{host}}/x', auth: { username: '{{user}}', password: '{{pw}}' }, port: 22 });
    const filled = fillVariables(template, { host: 'h', user: 'u', pw: 'p' });
    const masked = maskRed(filled, template) as SingleRed;
    expect((masked.inputs.f as { connector: { access: unknown } }).connector.access).toEqual({
      url: MASK,
      auth: { username: MASK, password: MASK },
      port: 22
    });
    expect(masked.cli).toEqual(template.cli);
  });

  test('masks batch REDs in every batch', () => {
    const filled = fillVariables(load('sweep.red.json'), { ssh_user: 'bob', ssh_password: 'pw' });
    const masked = maskRed(filled) as unknown as { batches: Array<{ inputs: { data: { connector: { access: { auth: unknown } } } } }> };
    expect(masked.batches.map(b => b.inputs.data.connector.access.auth)).toEqual([
      { username: 'bob', password: MASK },
      { username: 'bob', password: MASK }
    ]);
  });
});
