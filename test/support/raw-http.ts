import { connect } from 'node:net';

export interface RawExchange {
  /** Every byte the server sent, as text (status line, headers, body). */
  readonly response: string;
  /** The socket error the client saw (ECONNRESET, EPIPE…), if any. */
  readonly error: string | null;
  readonly status: number | null;
  /** The JSON body of the first response, when there is one. */
  readonly json: unknown;
}

/**
 * A client that behaves like most Python HTTP clients: it writes the whole request,
 * body included, before it reads a single byte of the answer. undici reads while it
 * writes, so it cannot show what such a client sees.
 */
export async function writeAllThenRead(url: string, head: string, body: Buffer): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  socket.pause();
  const chunks: Buffer[] = [];
  let error: string | null = null;
  socket.on('error', (err: NodeJS.ErrnoException) => {
    error ??= err.code ?? err.message;
  });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  await new Promise<void>((resolve) => {
    socket.write(head);
    socket.write(body, () => resolve());
    socket.once('error', () => resolve());
  });
  await new Promise<void>((resolve) => {
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // One response is all we wait for: the server may keep the connection open.
      const text = Buffer.concat(chunks).toString('latin1');
      const headEnd = text.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: *(\d+)/i.exec(text)?.[1];
      if (headEnd !== -1 && length !== undefined && text.length >= headEnd + 4 + Number(length)) resolve();
    });
    socket.once('close', () => resolve());
    socket.once('error', () => resolve());
    socket.resume();
  });
  socket.destroy();
  const response = Buffer.concat(chunks).toString('utf8');
  const status = /^HTTP\/1\.1 (\d{3})/.exec(response)?.[1];
  const bodyText = response.slice(response.indexOf('\r\n\r\n') + 4);
  let json: unknown = null;
  try {
    json = JSON.parse(bodyText);
  } catch {
    // null: no (complete) JSON body reached the client
  }
  return { response, error, status: status === undefined ? null : Number(status), json };
}

/** Request line and headers for writeAllThenRead. */
export function rawHead(method: string, path: string, headers: Record<string, string | number>): string {
  return `${method} ${path} HTTP/1.1\r\nhost: cordon.test\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}
