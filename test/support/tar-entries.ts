import type { Readable } from 'node:stream';
import { extract, type Headers } from 'tar-stream';

export interface TarEntry {
  readonly name: string;
  readonly type: string;
  /** -1 when the header has none. */
  readonly mode: number;
  readonly data: Buffer;
}

/** Every entry of a tar stream, in order, with its bytes. */
export async function readTarEntries(tar: Readable): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  const ex = extract();
  ex.on('entry', (h: Headers, body: Readable, next: () => void) => {
    const chunks: Buffer[] = [];
    body.on('data', (c: Buffer) => chunks.push(c));
    body.on('end', () => {
      out.push({ name: h.name, type: h.type ?? '', mode: h.mode ?? -1, data: Buffer.concat(chunks) });
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', () => resolve());
    ex.on('error', reject);
    tar.pipe(ex);
  });
  return out;
}
