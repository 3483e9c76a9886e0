import { readFileSync } from 'node:fs';
import { chmod, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';

/** The executor's parts, in order: one program, split by concern (executor/executor.py says what it is). */
const EXECUTOR_PARTS = ['executor.py', 'frames.py', 'run-code.py', 'python-kernel.py', 'workspace-files.py', 'workspace-ops.py', 'workspace-tree-ops.py', 'egress-forwarder.py', 'main.py'];

/** The executor's source: the container's command line runs it (`python3 -I -c <source> <languages>`). */
export const EXECUTOR_SOURCE = EXECUTOR_PARTS.map((part) => readFileSync(new URL(`./executor/${part}`, import.meta.url), 'utf8')).join('\n');

/** Why a link ended: the sandbox went away, or said something the runner will not read. */
export class ExecutorLinkError extends Error {
  readonly kind: 'closed' | 'protocol' | 'timeout';
  constructor(message: string, kind: 'closed' | 'protocol' | 'timeout') {
    super(message);
    this.kind = kind;
  }
}

export interface ExecutorLink {
  /** Sends one request and waits for its one reply (at most `maxReplyBytes`); one at a time. */
  request(message: Readonly<Record<string, unknown>>, maxReplyBytes: number): Promise<Record<string, unknown>>;
  /** True until the connection ends or the sandbox breaks the protocol. */
  readonly open: boolean;
  close(): void;
  /** Called once, when the link ends for any reason. */
  onClose(listener: (error: ExecutorLinkError) => void): void;
}

export interface PendingExecutor {
  /** The executor's first frame arrived on the first connection: the link is ready. */
  readonly ready: Promise<ExecutorLink>;
  /** Stops waiting (the container is being removed). */
  abort(): void;
}

const FRAME_HEADER = 4;
/** The hello frame is tiny; anything else first is not our executor. */
const MAX_HELLO_BYTES = 1024;

/**
 * Listens on `socketPath` for the executor inside one container. Only the first
 * connection is accepted, and the socket is closed and unlinked as soon as it
 * arrives: the executor connects before any sandboxed code runs, so nothing in the
 * sandbox can connect to it later and pose as the executor.
 */
export async function listenForExecutor(socketPath: string, helloTimeoutMs: number): Promise<PendingExecutor> {
  await unlink(socketPath).catch(() => {});
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path: socketPath, backlog: 1 }, () => resolve());
  });
  // The sandbox user (an unprivileged uid of the container) must be able to connect;
  // the directory the socket sits in is this sandbox's alone.
  await chmod(socketPath, 0o666);
  let settle: { resolve: (l: ExecutorLink) => void; reject: (e: Error) => void } | null = null;
  const ready = new Promise<ExecutorLink>((resolve, reject) => {
    settle = { resolve, reject };
  });
  ready.catch(() => {});
  const stopListening = () => {
    server.close();
    void unlink(socketPath).catch(() => {});
  };
  const fail = (e: ExecutorLinkError) => {
    stopListening();
    settle?.reject(e);
    settle = null;
  };
  const timer = setTimeout(() => fail(new ExecutorLinkError(`the sandbox's executor did not connect within ${helloTimeoutMs} ms`, 'timeout')), helloTimeoutMs);
  timer.unref();
  server.once('connection', (socket: Socket) => {
    stopListening();
    const link = createLink(socket);
    link.firstFrame(MAX_HELLO_BYTES).then(
      (hello) => {
        clearTimeout(timer);
        if (hello.op !== 'hello' || hello.version !== 1) {
          link.close();
          fail(new ExecutorLinkError('the first frame was not the executor\'s hello', 'protocol'));
          return;
        }
        settle?.resolve(link);
        settle = null;
      },
      (err: ExecutorLinkError) => {
        clearTimeout(timer);
        fail(err);
      },
    );
  });
  return {
    ready,
    abort() {
      clearTimeout(timer);
      fail(new ExecutorLinkError('stopped waiting for the executor', 'closed'));
    },
  };
}

function createLink(socket: Socket): ExecutorLink & { firstFrame(maxBytes: number): Promise<Record<string, unknown>> } {
  let open = true;
  let chunks: Buffer[] = [];
  let buffered = 0;
  let waiter: { maxBytes: number; resolve: (v: Record<string, unknown>) => void; reject: (e: ExecutorLinkError) => void } | null = null;
  let busy = false;
  let closeError: ExecutorLinkError | null = null;
  const listeners: ((e: ExecutorLinkError) => void)[] = [];

  const end = (error: ExecutorLinkError) => {
    if (!open) return;
    open = false;
    closeError = error;
    socket.destroy();
    chunks = [];
    waiter?.reject(error);
    waiter = null;
    for (const l of listeners.splice(0)) l(error);
  };

  const tryFrame = () => {
    if (waiter === null || buffered < FRAME_HEADER) return;
    const all = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    chunks = [all];
    const length = all.readUInt32BE(0);
    // A frame longer than the caller's cap is refused from its header, before it is read.
    if (length > waiter.maxBytes) {
      end(new ExecutorLinkError(`the sandbox sent a ${length}-byte reply; at most ${waiter.maxBytes} are read`, 'protocol'));
      return;
    }
    if (buffered < FRAME_HEADER + length) return;
    const body = all.subarray(FRAME_HEADER, FRAME_HEADER + length);
    const rest = all.subarray(FRAME_HEADER + length);
    chunks = rest.length > 0 ? [Buffer.from(rest)] : [];
    buffered = rest.length;
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      end(new ExecutorLinkError('the sandbox sent a reply that is not JSON', 'protocol'));
      return;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      end(new ExecutorLinkError('the sandbox sent a reply that is not a JSON object', 'protocol'));
      return;
    }
    const w = waiter;
    waiter = null;
    w.resolve(value as Record<string, unknown>);
  };

  socket.on('data', (chunk: Buffer) => {
    // Nothing is asked: the sandbox has nothing to say. Unasked bytes are a protocol breach.
    if (waiter === null) {
      end(new ExecutorLinkError('the sandbox sent bytes nobody asked for', 'protocol'));
      return;
    }
    buffered += chunk.length;
    if (buffered > FRAME_HEADER + waiter.maxBytes) {
      end(new ExecutorLinkError(`the sandbox sent more than the ${waiter.maxBytes} bytes a reply may hold`, 'protocol'));
      return;
    }
    chunks.push(chunk);
    tryFrame();
  });
  socket.on('close', () => end(new ExecutorLinkError('the sandbox\'s executor went away', 'closed')));
  socket.on('error', () => end(new ExecutorLinkError('the sandbox\'s executor went away', 'closed')));

  const read = (maxBytes: number) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      if (!open) {
        reject(closeError ?? new ExecutorLinkError('closed', 'closed'));
        return;
      }
      waiter = { maxBytes, resolve, reject };
      tryFrame();
    });

  return {
    get open() {
      return open;
    },
    firstFrame: read,
    async request(message, maxReplyBytes) {
      if (busy) throw new Error('executor link: one request at a time');
      busy = true;
      try {
        const body = Buffer.from(JSON.stringify(message), 'utf8');
        const header = Buffer.alloc(FRAME_HEADER);
        header.writeUInt32BE(body.length, 0);
        const reply = read(maxReplyBytes);
        socket.write(Buffer.concat([header, body]));
        return await reply;
      } finally {
        busy = false;
      }
    },
    close: () => end(new ExecutorLinkError('closed by the runner', 'closed')),
    onClose(listener) {
      if (open) listeners.push(listener);
      else listener(closeError ?? new ExecutorLinkError('closed', 'closed'));
    },
  };
}
