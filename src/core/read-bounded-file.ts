import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** What `readBoundedTextFile` answers: the text, or why the file was not read (for a problem line). */
export type BoundedRead = { readonly text: string } | { readonly reason: string };

/**
 * Reads a policy or key file an operator may change while Cordon runs (start-up and
 * reload read the same way). Only a regular file is read (a symlink to one is fine:
 * mounted config maps are symlinks); O_NONBLOCK keeps a FIFO dropped into the folder
 * from blocking the whole process on open, and at most `maxBytes + 1` bytes are read,
 * so `/dev/zero` behind a symlink or a file growing while it is read is refused, not
 * swallowed. Never throws.
 */
export function readBoundedTextFile(file: string, maxBytes: number): BoundedRead {
  let fd: number | undefined;
  let bytes: Buffer;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { reason: 'is not a regular file' };
    if (stat.size > maxBytes) return { reason: `is ${stat.size} bytes, over the ${maxBytes}-byte limit` };
    const buf = Buffer.alloc(maxBytes + 1);
    let size = 0;
    while (size < buf.length) {
      const n = readSync(fd, buf, size, buf.length - size, null);
      if (n === 0) break;
      size += n;
    }
    if (size > maxBytes) return { reason: `is over the ${maxBytes}-byte limit` };
    bytes = buf.subarray(0, size);
  } catch (err) {
    return { reason: `cannot read: ${(err as Error).message}` };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { reason: 'is not valid UTF-8' };
  }
}
