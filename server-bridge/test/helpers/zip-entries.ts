// A zip's entries read back with yauzl (as an unzip tool would): name → bytes, folders
// as names ending in '/'. For tests of the crate bundle (redlab export, GET /runs/{id}/crate).
import { createHash } from 'crypto';
import * as yauzl from 'yauzl';

export type ZipEntries = Map<string, Buffer>;

function readAll(zip: yauzl.ZipFile): Promise<ZipEntries> {
  return new Promise((resolve, reject) => {
    const out: ZipEntries = new Map();
    zip.on('error', reject);
    zip.on('end', () => resolve(out));
    zip.on('entry', (entry: yauzl.Entry) => {
      if (out.has(entry.fileName)) return reject(new Error(`the zip has ${entry.fileName} twice`));
      if (entry.fileName.endsWith('/')) {
        out.set(entry.fileName, Buffer.alloc(0));
        return zip.readEntry();
      }
      zip.openReadStream(entry, (err, stream) => {
        if (err || !stream) return reject(err);
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('error', reject);
        stream.on('end', () => {
          out.set(entry.fileName, Buffer.concat(chunks));
          zip.readEntry();
        });
      });
    });
    zip.readEntry();
  });
}

/** Every entry of the zip file at `file` (CRC and sizes checked by yauzl). */
export function zipEntriesOfFile(file: string): Promise<ZipEntries> {
  return new Promise((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, strictFileNames: true, validateEntrySizes: true }, (err, zip) => (err || !zip ? reject(err) : readAll(zip).then(resolve, reject)))
  );
}

/** Every entry of a zip held in memory. */
export function zipEntriesOfBuffer(buf: Buffer): Promise<ZipEntries> {
  return new Promise((resolve, reject) =>
    yauzl.fromBuffer(buf, { lazyEntries: true, strictFileNames: true, validateEntrySizes: true }, (err, zip) => (err || !zip ? reject(err) : readAll(zip).then(resolve, reject)))
  );
}

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
