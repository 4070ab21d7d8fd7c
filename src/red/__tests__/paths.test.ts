import {
  CONTAINER_INPUTS_DIR,
  CONTAINER_OUTPUTS_DIR,
  defaultInputBasename,
  defaultInputDirname,
  inputContainerPath,
  posixBasename,
  posixDirname,
  posixJoin,
  toAbsoluteContainerPath
} from '../paths';
import type { FileOrDirectory } from '../types';

const connector = { command: 'red-connector-http', access: { url: 'https://example.org/data/in.txt' } };
const file = (extra: Partial<FileOrDirectory> = {}): FileOrDirectory => ({ class: 'File', connector, ...extra });
const dir = (extra: Partial<FileOrDirectory> = {}): FileOrDirectory => ({ class: 'Directory', connector, ...extra });

describe('container layout', () => {
  test('constants', () => {
    expect(CONTAINER_INPUTS_DIR).toBe('/cc/inputs');
    expect(CONTAINER_OUTPUTS_DIR).toBe('/cc/outputs');
  });

  test('the default basename is the input key (not the URL file name), as in Curious Containers', () => {
    expect(defaultInputBasename('text_file')).toBe('text_file');
    expect(inputContainerPath('text_file', file())).toBe('/cc/inputs/text_file/text_file');
  });

  test('the default folder is /cc/inputs/<key>, with the index for array elements', () => {
    expect(defaultInputDirname('k')).toBe('/cc/inputs/k');
    expect(defaultInputDirname('k', 0)).toBe('/cc/inputs/k/0');
    expect(inputContainerPath('files', file(), 0)).toBe('/cc/inputs/files/0/files');
    expect(inputContainerPath('files', file({ basename: 'b.csv' }), 2)).toBe('/cc/inputs/files/2/b.csv');
  });

  test('a given basename is used', () => {
    expect(inputContainerPath('script', file({ basename: 'count.py' }))).toBe('/cc/inputs/script/count.py');
    expect(inputContainerPath('data', dir({ basename: 'images' }))).toBe('/cc/inputs/data/images');
  });

  test('a given dirname is used, for files and directories', () => {
    expect(inputContainerPath('script', file({ dirname: '/opt/app', basename: 'run.py' }))).toBe('/opt/app/run.py');
    expect(inputContainerPath('script', file({ dirname: '/opt/app/' }))).toBe('/opt/app/script');
    expect(inputContainerPath('data', dir({ dirname: '/mnt' }))).toBe('/mnt/data');
    expect(inputContainerPath('xs', file({ dirname: '/d' }), 3)).toBe('/d/xs');
  });

  test('paths join as PurePosixPath joins them', () => {
    expect(inputContainerPath('k', file({ dirname: 'rel/dir', basename: 'f' }))).toBe('rel/dir/f');
    expect(inputContainerPath('k', file({ dirname: '/a//b/./c', basename: 'f' }))).toBe('/a/b/c/f');
    expect(inputContainerPath('k', file({ dirname: '/a', basename: '/abs/f' }))).toBe('/abs/f');
    expect(inputContainerPath('k', file({ dirname: '/a', basename: '../f' }))).toBe('/a/../f');
  });

  test('a value that is not a File/Directory is an error naming the input', () => {
    expect(() => inputContainerPath('x', 'str' as unknown as FileOrDirectory)).toThrow('input "x" is not a File or Directory object');
    expect(() => inputContainerPath('x', { class: 'Other' } as unknown as FileOrDirectory, 1)).toThrow('input "x[1]" is not a File or Directory object');
  });
});

describe('posix helpers', () => {
  test('posixJoin', () => {
    expect(posixJoin('/cc/inputs', 'k', 'f')).toBe('/cc/inputs/k/f');
    expect(posixJoin('a', '/b', 'c')).toBe('/b/c');
    expect(posixJoin('')).toBe('.');
    expect(posixJoin('', 'x')).toBe('x');
    expect(posixJoin('//net/share', 'x')).toBe('//net/share/x');
    expect(posixJoin('///root', 'x')).toBe('/root/x');
    expect(posixJoin('/')).toBe('/');
    expect(posixJoin('a/./b/', '.')).toBe('a/b');
  });

  test('posixBasename and posixDirname', () => {
    expect(posixBasename('/cc/inputs/k/f.txt')).toBe('f.txt');
    expect(posixBasename('f.txt')).toBe('f.txt');
    expect(posixBasename('/a/')).toBe('');
    expect(posixDirname('/cc/inputs/k/f.txt')).toBe('/cc/inputs/k');
    expect(posixDirname('f.txt')).toBe('');
    expect(posixDirname('/f')).toBe('/');
    expect(posixDirname('a//b')).toBe('a');
  });

  test('toAbsoluteContainerPath resolves against /cc/outputs', () => {
    expect(toAbsoluteContainerPath('out.txt')).toBe('/cc/outputs/out.txt');
    expect(toAbsoluteContainerPath('./a/../b')).toBe('/cc/outputs/b');
    expect(toAbsoluteContainerPath('../inputs/k/f')).toBe('/cc/inputs/k/f');
    expect(toAbsoluteContainerPath('/cc/inputs/k/f')).toBe('/cc/inputs/k/f');
    expect(toAbsoluteContainerPath('/../..')).toBe('/');
  });
});
