// Types for tar-stream 2.2.0, the parts Cordon uses (container-files.ts). @types/tar-stream is
// not installed; this declares only what the runtime package provides at that version.
declare module 'tar-stream' {
  import type { Readable, Writable } from 'node:stream';

  export type EntryType =
    | 'file'
    | 'link'
    | 'symlink'
    | 'character-device'
    | 'block-device'
    | 'directory'
    | 'fifo'
    | 'contiguous-file'
    | 'pax-header'
    | 'pax-global-header'
    | 'gnu-long-link-path'
    | 'gnu-long-path';

  export interface Headers {
    name: string;
    size?: number;
    mode?: number;
    mtime?: Date;
    /** null for a typeflag tar-stream does not know (GNU sparse, volume labels, …). */
    type?: EntryType | null;
    linkname?: string | null;
    uid?: number;
    gid?: number;
    uname?: string;
    gname?: string;
    devmajor?: number;
    devminor?: number;
    /** The entry's pax records (with any global ones merged in), when it had a pax header. */
    pax?: Record<string, string> | null;
  }

  export interface ExtractOptions {
    filenameEncoding?: string;
    allowUnknownFormat?: boolean;
  }

  export interface Extract extends Writable {
    on(event: 'entry', listener: (headers: Headers, stream: Readable, next: (error?: unknown) => void) => void): this;
    on(event: string | symbol, listener: (...args: never[]) => void): this;
  }

  export interface Pack extends Readable {
    entry(headers: Headers, callback?: (error?: Error | null) => void): Writable;
    entry(headers: Headers, buffer: string | Buffer, callback?: (error?: Error | null) => void): Writable;
    finalize(): void;
  }

  export function extract(options?: ExtractOptions): Extract;
  export function pack(options?: Record<string, unknown>): Pack;
}
