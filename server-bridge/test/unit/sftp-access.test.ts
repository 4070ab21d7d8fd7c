// red-connector-ssh's access fields, checked before any connection: each mistake named with
// its field and the fix, and a secret never quoted.
import { parseSshAccess } from '../../src/connectors/sftp';

const auth = { username: 'alice', password: 's3cret-pw' };
const parse = (access: Record<string, unknown>, cls: 'File' | 'Directory' = 'File') => () => parseSshAccess(access, 'input data', cls);

describe('parseSshAccess', () => {
  it('takes the Curious Containers fields, with port 22 and a timeout by default', () => {
    expect(parseSshAccess({ host: 'lab.example.org', auth, filePath: '/d/a.txt' }, 'input data', 'File')).toEqual({
      host: 'lab.example.org',
      port: 22,
      username: 'alice',
      password: 's3cret-pw',
      privateKey: undefined,
      passphrase: undefined,
      filePath: '/d/a.txt',
      timeoutS: 30
    });
    expect(parseSshAccess({ host: 'h', port: 2222, auth: { username: 'a', privateKey: 'KEY', passphrase: 'p' }, dirPath: 'd', timeout: 5, writable: false }, 'output o', 'Directory')).toMatchObject({
      port: 2222,
      privateKey: 'KEY',
      passphrase: 'p',
      dirPath: 'd',
      timeoutS: 5
    });
  });

  it.each([
    [{ auth, filePath: 'a' }, 'input data (red-connector-ssh): access.host must be the SSH server (a host name or address)'],
    [{ host: 'h', port: 70000, auth, filePath: 'a' }, 'input data (red-connector-ssh): access.port must be a port number (1-65535), not 70000'],
    [{ host: 'h', auth, filePath: 'a', timeout: 0 }, 'input data (red-connector-ssh): access.timeout must be a number of seconds (> 0), not 0'],
    [{ host: 'h', filePath: 'a' }, 'input data (red-connector-ssh): access.auth needs username and either password or privateKey (give secrets as {{variables}})'],
    [{ host: 'h', auth: { username: 'a' }, filePath: 'a' }, 'input data (red-connector-ssh): access.auth needs password or privateKey (the private key text, e.g. from a {{variable}})'],
    [{ host: 'h', auth: { ...auth, token: 'x' }, filePath: 'a' }, 'input data (red-connector-ssh): unknown access.auth key token; allowed: username, password, privateKey, passphrase'],
    [{ host: 'h', auth, path: '/x' }, 'input data (red-connector-ssh): unknown access key path; allowed: host, port, auth, filePath, dirPath, timeout, writable'],
    [{ host: 'h', auth, dirPath: 'd' }, 'input data (red-connector-ssh): a File needs access.filePath (the path on the SSH server); access.dirPath is for a Directory']
  ])('refuses %j naming the field', (access, message) => {
    expect(parse(access)).toThrow(message);
    try {
      parse(access)();
    } catch (e) {
      expect((e as Error).message).not.toContain('s3cret-pw');
    }
  });
});
