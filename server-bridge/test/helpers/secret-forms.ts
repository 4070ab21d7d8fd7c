// The forms a secret takes on its way into messages, made with the platform's own
// encoders (URL, URLSearchParams, encodeURIComponent, Buffer, JSON), for tests that
// scan answers, events and files for every one of them.
import { formatCommandLine } from '../../../src/red/command';

export function encodedForms(secret: string, basicAuthUser?: string): string[] {
  const userinfo = new URL('http://h.example/');
  userinfo.password = secret;
  const inPath = new URL('http://h.example/');
  inPath.pathname = '/' + secret;
  const forms = [
    secret,
    secret.toLowerCase(),
    encodeURIComponent(secret),
    encodeURI(secret),
    userinfo.password,
    inPath.pathname.slice(1),
    new URL('http://h.example/?' + secret).search.slice(1),
    new URLSearchParams({ q: secret }).toString().slice(2),
    JSON.stringify(secret).slice(1, -1),
    JSON.stringify(JSON.stringify(secret)).slice(3, -3),
    Buffer.from(secret).toString('base64'),
    formatCommandLine([secret])
  ];
  try {
    forms.push(new URL(`http://${secret}.invalid/`).hostname.replace(/\.invalid$/, ''));
  } catch {
    /* not a possible host name (spaces) */
  }
  if (basicAuthUser !== undefined) forms.push(Buffer.from(`${basicAuthUser}:${secret}`).toString('base64'));
  return [...new Set(forms)];
}

/** The forms of `secrets` found in `text` (none is what the tests want). */
export function leakedForms(text: string | Buffer, secrets: string[][]): string[] {
  const hay = typeof text === 'string' ? Buffer.from(text) : text;
  return secrets.flat().filter(f => hay.includes(Buffer.from(f)));
}
