import type { IncomingMessage, ServerResponse } from 'node:http';

export interface UnreadBodyLimits {
  /** Most bytes of an unread body discarded after the answer; then the connection is closed. */
  readonly maxBytes: number;
  /** Longest the rest of the body may take to arrive; then the connection is closed. */
  readonly maxMs: number;
}

/**
 * Reads and discards what is left of a request body whose answer goes out before
 * the body was read (401 before the body, 413 part-way through it, 415…).
 *
 * Why: closing a socket whose receive buffer still holds unread bytes makes the
 * kernel send a reset, and a client that writes its whole body before reading
 * (most Python clients) then loses the answer already in its own buffer: it sees
 * ECONNRESET, never the 413. So the connection stays open while the client finishes
 * writing, and the bytes go nowhere (nothing is buffered or parsed).
 *
 * Bounded, so no one can stream at us for ever: past `maxBytes` or `maxMs` the
 * socket is destroyed (a client still writing then sees the reset — it sent far
 * more than any limit allows).
 */
export function discardUnreadBody(raw: IncomingMessage, res: ServerResponse, limits: UnreadBodyLimits): void {
  if (raw.complete || raw.readableEnded || raw.destroyed) return;
  const socket = raw.socket;
  // Node closes the connection right after the answer when the request asked for that
  // (`connection: close`, HTTP/1.0). Keep it open until the body is in, then close it
  // ourselves: the closure the client asked for, just after its last byte, not before.
  const closeWhenDone = !res.shouldKeepAlive;
  res.shouldKeepAlive = true;
  let discardedBytes = 0;
  const stop = () => {
    clearTimeout(timer);
    raw.removeListener('data', onData);
    raw.removeListener('end', done);
    raw.removeListener('close', done);
  };
  const cut = () => {
    stop();
    socket.destroy();
  };
  const done = () => {
    stop();
    if (closeWhenDone) socket.end();
  };
  const onData = (chunk: Buffer) => {
    discardedBytes += chunk.length;
    if (discardedBytes > limits.maxBytes) cut();
  };
  const timer = setTimeout(cut, limits.maxMs);
  timer.unref();
  raw.on('data', onData);
  raw.once('end', done);
  raw.once('close', done);
  raw.resume();
}
