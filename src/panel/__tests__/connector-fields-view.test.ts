// The access fields as the panel renders them (server-side React, no browser): one field
// per entry of the connector table; a secret shows only its {{variable}}'s name, never a
// value the access may hold (a literal from an imported RED stays out of the page).
import * as React from 'react';
import { ConnectorFields } from '../views/ConnectorFields';

// Required with its one function typed (no @types/react-dom), as the panel's other view tests do.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { renderToStaticMarkup } = require('react-dom/server') as { renderToStaticMarkup(element: React.ReactElement): string };

const render = (access: Record<string, unknown>, cls: 'File' | 'Directory' = 'File', mounted = false) =>
  renderToStaticMarkup(React.createElement(ConnectorFields, { command: 'red-connector-ssh', cls, direction: 'receive', mounted, access, owner: 'sftp', onChange: () => undefined }));

describe('ConnectorFields', () => {
  it('renders the SFTP fields of a File, each with its test id', () => {
    const html = render({ host: 'lab', port: 22, auth: { username: 'ann', password: '{{sftp_password}}' }, filePath: '/d/a.csv' });
    const ids = [...html.matchAll(/data-testid="redlab-access-([^"]+)"/g)].map(m => m[1]);
    expect(ids).toEqual(['host', 'port', 'auth.username', 'auth.password', 'auth.privateKey', 'auth.passphrase', 'filePath', 'timeout']);
    expect(html).toContain('value="sftp_password"');
    expect(html).toContain('value="/d/a.csv"');
  });

  it('never puts a secret value into the page', () => {
    const html = render({ host: 'lab', auth: { username: 'ann', password: 'hunter2', privateKey: '-----BEGIN KEY' }, dirPath: '/d' }, 'Directory', true);
    expect(html).not.toContain('hunter2');
    expect(html).not.toContain('BEGIN KEY');
    expect(html).toContain('data-testid="redlab-access-dirPath"');
    expect(html).toContain('data-testid="redlab-access-writable"');
    // A copied (not mounted) folder has no writable flag.
    expect(render({ host: 'lab', dirPath: '/d' }, 'Directory')).not.toContain('redlab-access-writable');
  });

  it('shows an unknown connector\'s access as it is, but for its secrets', () => {
    const html = renderToStaticMarkup(React.createElement(ConnectorFields, { command: 'cc-xnat', cls: 'File', direction: 'receive', access: { project: 'p', auth: { password: 'hunter2' } }, owner: 'x', onChange: () => undefined }));
    expect(html).toContain('&quot;project&quot;:&quot;p&quot;');
    expect(html).not.toContain('hunter2');
  });
});
