import {
  CONNECTOR_SPECS,
  accessProblems,
  accessValue,
  canMount,
  connectorFields,
  connectorSpec,
  defaultAccess,
  isSecretAccessUse,
  isMultilineAccessUse,
  listVariables,
  maskRed,
  validateRed,
  type SingleRed,
  offeredConnectors,
  secretVariableName,
  withAccessValue,
  withSecretsAsVariables
} from '..';

describe('the connector table', () => {
  it('knows the seven connectors with what they receive and send', () => {
    const classes = Object.fromEntries(CONNECTOR_SPECS.map(s => [s.command, { receives: [...s.receives], sends: [...s.sends] }]));
    expect(classes).toEqual({
      'redlab-connector-local': { receives: ['File', 'Directory'], sends: [] },
      'red-connector-http': { receives: ['File', 'Directory'], sends: ['File'] },
      'red-connector-http-archive': { receives: ['Directory'], sends: [] },
      'red-connector-http-json': { receives: ['File'], sends: ['File'] },
      'red-connector-ssh': { receives: ['File', 'Directory'], sends: ['File', 'Directory'] },
      'red-connector-ftp': { receives: ['File', 'Directory'], sends: ['File', 'Directory'] },
      'redlab-connector-s3': { receives: ['File', 'Directory'], sends: ['File', 'Directory'] }
    });
  });

  it('flags every password, passphrase, private key and secret key as secret, and nothing else', () => {
    const credential = /password|passphrase|privatekey|secret/i;
    for (const spec of CONNECTOR_SPECS) {
      for (const f of spec.fields) expect({ at: `${spec.command} ${f.path}`, secret: !!f.secret }).toEqual({ at: `${spec.command} ${f.path}`, secret: credential.test(f.path) });
    }
    expect(CONNECTOR_SPECS.flatMap(s => s.fields.filter(f => f.secret).map(f => `${s.command} ${f.path}`))).toEqual([
      'red-connector-http auth.password',
      'red-connector-http-archive auth.password',
      'red-connector-http-json auth.password',
      'red-connector-ssh auth.password',
      'red-connector-ssh auth.privateKey',
      'red-connector-ssh auth.passphrase',
      'red-connector-ftp auth.password',
      'redlab-connector-s3 auth.secretAccessKey'
    ]);
  });

  it('gives SFTP filePath for a File and dirPath for a Directory (Curious Containers names), writable only for mounted folders', () => {
    const paths = (cls: 'File' | 'Directory', dir: 'receive' | 'send', mounted = false) => connectorFields('red-connector-ssh', cls, dir, mounted).map(f => f.path);
    expect(paths('File', 'receive')).toEqual(['host', 'port', 'auth.username', 'auth.password', 'auth.privateKey', 'auth.passphrase', 'filePath', 'timeout']);
    expect(paths('Directory', 'receive')).toEqual(['host', 'port', 'auth.username', 'auth.password', 'auth.privateKey', 'auth.passphrase', 'dirPath', 'timeout']);
    expect(paths('Directory', 'receive', true)).toEqual(['host', 'port', 'auth.username', 'auth.password', 'auth.privateKey', 'auth.passphrase', 'dirPath', 'timeout', 'writable']);
    expect(paths('Directory', 'send', true)).not.toContain('writable');
    expect(connectorFields('redlab-connector-s3', 'Directory', 'send').map(f => f.path)).toContain('prefix');
    expect(connectorFields('redlab-connector-s3', 'File', 'send').map(f => f.path)).toContain('key');
    expect(connectorFields('xnat-connector', 'File', 'receive')).toEqual([]);
  });
});

describe('URL fields', () => {
  it('checks the scheme of every connector\'s URL, a {{variable}} standing for any', () => {
    const msgs = (command: string, url: string, cls: 'File' | 'Directory' = 'File') => accessProblems(command, cls, 'receive', { url, archiveFormat: 'zip' }, 'd').map(p => p.message);
    expect(msgs('red-connector-http', 'ftp://x/y')).toEqual(['HTTP URL: URL (access.url) must start with http:// or https://']);
    expect(msgs('red-connector-http-json', 'file:///etc/passwd')).toEqual(['HTTP JSON document: URL (access.url) must start with http:// or https://']);
    expect(msgs('red-connector-http-archive', 'ftp://x/a.zip', 'Directory')).toEqual(['HTTP archive (unpacked): URL (access.url) must start with http:// or https://']);
    expect(msgs('red-connector-ftp', 'HTTPS://x/y')).toEqual(['FTP: URL (access.url) must start with ftp:// or ftps://']);
    expect(msgs('red-connector-http-archive', 'HTTPS://x/a.zip', 'Directory')).toEqual([]);
    expect(msgs('red-connector-http', '{{data_url}}')).toEqual([]);
  });

  it('needs an archive\'s format, among those red-connector-http-archive unpacks', () => {
    expect(accessProblems('red-connector-http-archive', 'Directory', 'receive', { url: 'https://x/a' }, 'd').map(p => p.message)).toEqual(['HTTP archive (unpacked): archive format (access.archiveFormat) is needed']);
    expect(accessProblems('red-connector-http-archive', 'Directory', 'receive', { url: 'https://x/a', archiveFormat: 'rar' }, 'd').map(p => p.message)).toEqual([
      'HTTP archive (unpacked): archive format (access.archiveFormat) must be one of zip, tar, gztar, bztar, xztar, not "rar"'
    ]);
  });
});

describe('canMount', () => {
  it('mounts only folders of SFTP and HTTP, and only where the engine says it can', () => {
    const engine = ['red-connector-ssh', 'red-connector-http', 'red-connector-ftp', 'cc-xnat'];
    expect(canMount('red-connector-ssh', 'Directory', engine)).toBe(true);
    expect(canMount('red-connector-http', 'Directory', engine)).toBe(true);
    expect(canMount('red-connector-ssh', 'File', engine)).toBe(false);
    expect(canMount('red-connector-ftp', 'Directory', engine)).toBe(false);
    expect(canMount('cc-xnat', 'Directory', engine)).toBe(false);
    expect(canMount('red-connector-ssh', 'Directory', ['red-connector-http'])).toBe(false);
    expect(canMount('red-connector-ssh', 'Directory', undefined)).toBe(false);
  });

  it('checks a mounted folder\'s writable flag, and only when it is mounted', () => {
    const access = { host: 'lab', auth: { username: 'ann', password: '{{d_password}}' }, dirPath: '/d', writable: 'yes' };
    expect(accessProblems('red-connector-ssh', 'Directory', 'receive', access, 'd', true).map(p => p.message)).toEqual(['SFTP (SSH): writable mount (access.writable) must be true or false, not "yes"']);
    expect(accessProblems('red-connector-ssh', 'Directory', 'receive', access, 'd')).toEqual([]);
  });
});

describe('offeredConnectors', () => {
  const engine = ['redlab-connector-local', 'red-connector-http', 'red-connector-ssh', 'cc-xnat'];
  it('offers only what the engine has, and only connectors that can handle the class and direction', () => {
    expect(offeredConnectors(engine, 'File', 'receive')).toEqual(engine);
    expect(offeredConnectors(engine, 'Directory', 'send')).toEqual(['red-connector-ssh', 'cc-xnat']);
    expect(offeredConnectors(engine, 'File', 'send')).toEqual(['red-connector-http', 'red-connector-ssh', 'cc-xnat']);
    expect(offeredConnectors(['redlab-connector-local'], 'File', 'receive')).not.toContain('red-connector-ssh');
  });
});

describe('access values', () => {
  it('reads and writes dotted paths, dropping objects left empty', () => {
    const a = withAccessValue({ host: 'h' }, 'auth.username', 'ann');
    expect(a).toEqual({ host: 'h', auth: { username: 'ann' } });
    expect(accessValue(a, 'auth.username')).toBe('ann');
    expect(accessValue(a, 'auth.password')).toBeUndefined();
    expect(withAccessValue(a, 'auth.username', undefined)).toEqual({ host: 'h' });
  });

  it('names secret variables after their owner and field', () => {
    expect(secretVariableName('sftp', 'auth.password')).toBe('sftp_password');
    expect(secretVariableName('tiles', 'auth.privateKey')).toBe('tiles_private_key');
    expect(secretVariableName('my-data', 'auth.secretAccessKey')).toBe('my_data_secret_access_key');
  });

  it('starts an SFTP access with port 22 and its password as a {{variable}}', () => {
    expect(defaultAccess('red-connector-ssh', 'File', 'receive', 'sftp')).toEqual({ host: '', port: 22, auth: { username: '', password: '{{sftp_password}}' }, filePath: '' });
    expect(defaultAccess('red-connector-ssh', 'Directory', 'send', 'out')).toEqual({ host: '', port: 22, auth: { username: '', password: '{{out_password}}' }, dirPath: '' });
    expect(defaultAccess('redlab-connector-local', 'File', 'receive', 'x')).toEqual({ path: '' });
    expect(defaultAccess('red-connector-http', 'File', 'receive', 'x')).toEqual({ url: '' });
  });
});

describe('accessProblems', () => {
  const ssh = (access: Record<string, unknown>, cls: 'File' | 'Directory' = 'File') => accessProblems('red-connector-ssh', cls, 'receive', access, 'sftp');
  const ok = { host: 'lab', port: 22, auth: { username: 'ann', password: '{{sftp_password}}' }, filePath: '/data/a.csv' };

  it('accepts a complete SFTP access', () => {
    expect(ssh(ok)).toEqual([]);
    expect(ssh({ ...ok, auth: { username: 'ann', privateKey: '{{k}}', passphrase: '{{p}}' } })).toEqual([]);
  });

  it('names each field left empty and how to fill it', () => {
    const problems = ssh({ port: 22, auth: { password: '{{sftp_password}}' } });
    expect(problems.map(p => p.path)).toEqual(['host', 'auth.username', 'filePath']);
    expect(problems[0].message).toBe('SFTP (SSH): host (access.host) is needed');
    expect(ssh({ ...ok, filePath: undefined, dirPath: '' }, 'Directory').map(p => p.path)).toEqual(['dirPath']);
  });

  it('refuses a secret written as a value, naming the variable to write', () => {
    const [p] = ssh({ ...ok, auth: { username: 'ann', password: 'hunter2' } });
    expect(p).toEqual({ path: 'auth.password', message: expect.stringContaining('password (access.auth.password) must be a {{variable}}'), fix: 'write {{sftp_password}}' });
    expect(accessProblems('redlab-connector-s3', 'File', 'send', { bucket: 'b', key: 'k', auth: { accessKeyId: 'AK', secretAccessKey: 'abc' } }, 's3').map(x => x.path)).toEqual(['auth.secretAccessKey']);
  });

  it('needs a password or a private key for SFTP', () => {
    expect(ssh({ ...ok, auth: { username: 'ann' } })).toEqual([expect.objectContaining({ path: 'auth.password', message: expect.stringContaining('password (access.auth.password) or private key (access.auth.privateKey)') })]);
  });

  it('checks numbers and choices', () => {
    expect(ssh({ ...ok, port: 'twenty-two' })[0].message).toContain('port (access.port) must be a positive number');
    expect(ssh({ ...ok, port: '{{port}}' })).toEqual([]);
    expect(accessProblems('red-connector-http', 'File', 'send', { url: 'https://x', method: 'DELETE' }, 'o')[0].message).toContain('must be one of GET, PUT, POST');
  });

  it('needs an HTTP login whole: a user without a password names the password', () => {
    expect(accessProblems('red-connector-http', 'File', 'receive', { url: 'https://x', auth: { username: 'ann' } }, 'web')).toEqual([
      { path: 'auth.password', message: 'HTTP URL: password (access.auth.password) is needed with access.auth.username', fix: 'write {{web_password}}' }
    ]);
    expect(accessProblems('red-connector-http', 'File', 'receive', { url: 'https://x' }, 'web')).toEqual([]);
  });

  it('refuses a password in a URL\'s user info, and FTP without a login is anonymous', () => {
    expect(accessProblems('red-connector-ftp', 'File', 'receive', { url: 'ftp://ann:hunter2@lab/x.csv' }, 'ftp')).toEqual([
      { path: 'url', message: 'FTP: URL (access.url) holds a password: it would be saved', fix: 'write it as {{ftp_password}} in the URL, or leave it out and use auth.password' }
    ]);
    expect(accessProblems('red-connector-ftp', 'File', 'receive', { url: 'ftp://ann:{{pw}}@lab/x.csv' }, 'ftp')).toEqual([]);
    expect(accessProblems('red-connector-ftp', 'Directory', 'send', { url: 'ftp://lab/pub/' }, 'ftp')).toEqual([]);
  });

  it('knows nothing of connectors it does not describe', () => {
    expect(accessProblems('cc-xnat', 'File', 'receive', { anything: 1 }, 'x')).toEqual([]);
    // Except its secrets, known by their keys (Curious Containers' protected keys and the table's).
    expect(accessProblems('cc-xnat', 'File', 'receive', { anything: 1, auth: { username: 'u', password: 'pw' }, _token: '{{t}}' }, 'x')).toEqual([
      { path: 'auth.password', message: 'cc-xnat: access.auth.password must be a {{variable}}: its value is asked for at launch and never saved', fix: 'write {{x_password}}' }
    ]);
  });
});

describe('withSecretsAsVariables', () => {
  it('replaces every secret value by its {{variable}} and keeps variables and other fields', () => {
    const access = { host: 'lab', auth: { username: 'ann', password: 'hunter2', privateKey: '-----BEGIN', passphrase: '{{mine}}' } };
    expect(withSecretsAsVariables('red-connector-ssh', access, 'sftp')).toEqual({ host: 'lab', auth: { username: 'ann', password: '{{sftp_password}}', privateKey: '{{sftp_private_key}}', passphrase: '{{mine}}' } });
    expect(withSecretsAsVariables('red-connector-http', { url: 'https://ann:hunter2@x/y' }, 'web')).toEqual({ url: 'https://ann:{{web_password}}@x/y' });
    expect(withSecretsAsVariables('cc-xnat', { host: 'h', password: 'x', auth: { _apiKey: 'k', passphrase: '{{p}}' } }, 'a')).toEqual({ host: 'h', password: '{{a_password}}', auth: { _apiKey: '{{a__api_key}}', passphrase: '{{p}}' } });
  });
});

describe('how variables are asked for at launch', () => {
  it('hides every secret field, and gives a private key several lines', () => {
    for (const spec of CONNECTOR_SPECS) {
      for (const f of spec.fields.filter(x => x.secret)) expect(isSecretAccessUse([`inputs.d.connector.access.${f.path}`])).toBe(true);
    }
    expect(isSecretAccessUse(['inputs.d.connector.access.auth.username'])).toBe(false);
    expect(isMultilineAccessUse(['outputs.o.connector.access.auth.privateKey'])).toBe(true);
    expect(isMultilineAccessUse(['outputs.o.connector.access.auth.password'])).toBe(false);
    expect(connectorSpec('red-connector-ssh')?.label).toBe('SFTP (SSH)');
  });
});

describe('secret fields that Curious Containers does not protect', () => {
  const red = (access: Record<string, unknown>, doc = 'x'): SingleRed =>
    ({
      redVersion: '9',
      doc,
      cli: { cwlVersion: 'v1.0', class: 'CommandLineTool', baseCommand: 'cat', inputs: { f: { type: 'File', inputBinding: { position: 0 } } }, outputs: {} },
      inputs: { f: { class: 'File', connector: { command: 'redlab-connector-s3', access } } },
      container: { engine: 'docker', settings: { image: { url: 'alpine' } } }
    }) as SingleRed;

  it('are masked in what is stored, and their {{variables}} are secret, below access', () => {
    const literal = red({ bucket: 'b', key: 'k', auth: { accessKeyId: 'AKIA', secretAccessKey: 'wJalrXUtnFEMI' } });
    expect(JSON.stringify(maskRed(literal))).not.toContain('wJalrXUtnFEMI');
    expect(JSON.stringify(maskRed(literal))).toContain('AKIA');
    const withVar = red({ bucket: 'b', key: 'k', auth: { accessKeyId: 'AKIA', secretAccessKey: '{{s3_secret}}' } });
    expect(listVariables(withVar)).toEqual([{ name: 's3_secret', protected: true, paths: ['inputs.f.connector.access.auth.secretAccessKey'] }]);
  });

  it('are plain keys elsewhere (a RED of Curious Containers stays valid)', () => {
    const r = { ...red({ bucket: 'b', key: 'k' }), passphrase: 'not a secret here' } as unknown as SingleRed;
    expect(validateRed(r).filter(i => i.message.includes('protected'))).toEqual([]);
  });
});
