// Container layout, as Curious Containers lays it out (cc_core/commons/red_to_restricted_red.py):
// inputs below /cc/inputs, the command runs in /cc/outputs. Pure posix string paths.
//
// Where Curious Containers puts an input:
//   - File:      <dirname>/<basename>; `dirname` defaults to /cc/inputs/<random uuid4>,
//                `basename` defaults to the input KEY (not the connector's file name).
//   - Directory: /cc/inputs/<random uuid4>/<basename>, `basename` defaulting to the input key
//                (Curious Containers ignores a Directory's `dirname`).
//   - arrays:    every element gets its own random folder, the basename still defaults to the key.
// RED Lab keeps the defaults but makes the folder deterministic, so that command lines are
// reproducible: /cc/inputs/<key>/<basename>, and /cc/inputs/<key>/<index>/<basename> for the
// elements of File[]/Directory[] inputs. A given `dirname` is honoured for Files and Directories.
// Paths are joined as Python's PurePosixPath joins them (an absolute basename wins, `//` and `.`
// segments collapse, `..` stays), so a relative `dirname` stays relative, i.e. relative to the
// working directory /cc/outputs: see `toAbsoluteContainerPath`.

import type { FileOrDirectory } from './types';

export const CONTAINER_INPUTS_DIR = '/cc/inputs';
export const CONTAINER_OUTPUTS_DIR = '/cc/outputs';

/** Basename of an input that gives none: the input key, as in Curious Containers. */
export function defaultInputBasename(key: string): string {
  return key;
}

/** Folder of an input that gives no `dirname`: /cc/inputs/<key>, or /cc/inputs/<key>/<index> for array elements. */
export function defaultInputDirname(key: string, index?: number): string {
  return index === undefined ? `${CONTAINER_INPUTS_DIR}/${key}` : `${CONTAINER_INPUTS_DIR}/${key}/${index}`;
}

/** Where a File or Directory input is placed inside the container. */
export function inputContainerPath(key: string, value: FileOrDirectory, index?: number): string {
  if (!value || typeof value !== 'object' || (value.class !== 'File' && value.class !== 'Directory')) {
    throw new Error(`input "${index === undefined ? key : `${key}[${index}]`}" is not a File or Directory object`);
  }
  const basename = typeof value.basename === 'string' ? value.basename : defaultInputBasename(key);
  const dirname = typeof value.dirname === 'string' ? value.dirname : defaultInputDirname(key, index);
  return posixJoin(dirname, basename);
}

/**
 * Python's `PurePosixPath(a, b, ...).as_posix()`: joins, drops empty and `.` segments,
 * keeps `..`, restarts at an absolute part, keeps a leading `//` (exactly two slashes).
 */
export function posixJoin(...parts: string[]): string {
  let root = '';
  let segments: string[] = [];
  for (const part of parts) {
    if (part.startsWith('/')) {
      root = part.startsWith('//') && !part.startsWith('///') ? '//' : '/';
      segments = [];
    }
    for (const seg of part.split('/')) {
      if (seg !== '' && seg !== '.') segments.push(seg);
    }
  }
  const body = segments.join('/');
  if (!root) return body === '' ? '.' : body;
  return root + body;
}

/** Python's `posixpath.basename`: the text after the last `/`. */
export function posixBasename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** Python's `posixpath.dirname`: the text before the last `/`, trailing slashes removed unless it is all slashes. */
export function posixDirname(p: string): string {
  const i = p.lastIndexOf('/') + 1;
  let head = p.slice(0, i);
  if (head && head !== '/'.repeat(head.length)) head = head.replace(/\/+$/, '');
  return head;
}

/**
 * Normalizes a container path the way `os.path.abspath` does with the working directory
 * /cc/outputs: relative paths are taken from /cc/outputs, `.` and `..` are resolved.
 */
export function toAbsoluteContainerPath(p: string): string {
  const full = p.startsWith('/') ? p : `${CONTAINER_OUTPUTS_DIR}/${p}`;
  const out: string[] = [];
  for (const seg of full.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return '/' + out.join('/');
}
