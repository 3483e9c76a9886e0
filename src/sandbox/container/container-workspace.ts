import { CordonError } from '../../core/errors.ts';
import { MAX_DEPTH, type ListResult, type ReadResult, type SandboxWorkspace, type WorkspacePath } from '../workspace/index.ts';
import { askExecutor, protocolBreach } from './executor-ask.ts';
import type { ExecutorLink } from './executor-link.ts';
import { listReply, readReply, ReplyBreach, replyOutcome, statReply, type OpContext } from './workspace-replies.ts';
import { MAX_PATH_BYTES } from './workspace-path.ts';

/*
 * A container's /workspace for the file tools, through its executor (executor/workspace-ops.py
 * and workspace-tree-ops.py): the same calls give the same answers as a host workspace (one
 * contract suite runs against both). The executor walks every path without following a link;
 * the runner has parsed the path already and checks every reply (workspace-replies.ts).
 */

/** A read's ceiling whatever the caller asks: the reply is one frame, which the runner holds whole. */
export const MAX_READ_BYTES = 64 * 1024 * 1024;
/** A write's bytes per frame: in base64 with its fields, a frame stays under the executor's 8 MiB. */
export const WRITE_FRAME_BYTES = 4 * 1024 * 1024;
/** A list's ceiling whatever the caller asks (a walk past it says truncated). */
export const MAX_LIST_ENTRIES = 100_000;
/** A list entry's reply bytes at most: its path JSON-escaped at worst (6 bytes a byte), type and size. */
const LIST_ENTRY_BYTES = 6 * MAX_PATH_BYTES + 128;
/** Room in a reply for everything but content and entries. */
const REPLY_BASE_BYTES = 16 * 1024;
const OP_TIMEOUT_MS = 60_000;

export interface ExecutorWorkspaceOptions {
  readonly sandboxId: string;
  /**
   * Runs `work` with the sandbox's executor link in the sandbox's turn, under the backend's
   * limiter, so an op never interleaves with a run or another op (a per-call sandbox's container
   * is started for it if it has none yet). Rejects once the sandbox has ended.
   */
  readonly turn: <T>(work: (link: ExecutorLink) => Promise<T>) => Promise<T>;
  /** How long the executor has to answer one frame before its container is ended. */
  readonly opTimeoutMs?: number;
}

/** A caller's count as the executor takes it: a whole number from 0 to `max` (NaN is 0, Infinity is max). */
function count(value: number | undefined, fallback: number, max: number): number {
  const v = value ?? fallback;
  if (Number.isNaN(v) || v <= 0) return 0;
  return Math.min(Math.floor(v), max);
}

export function executorWorkspace(options: ExecutorWorkspaceOptions): SandboxWorkspace {
  const timeoutMs = options.opTimeoutMs ?? OP_TIMEOUT_MS;
  const sandbox = options.sandboxId;

  const breach = (link: ExecutorLink, why: string) => protocolBreach(link, why, sandbox);
  const ask = (link: ExecutorLink, message: Record<string, unknown>, maxReplyBytes: number) => askExecutor(link, message, maxReplyBytes, { what: 'a workspace operation', timeoutMs, sandbox });

  /**
   * Sends an op in the sandbox's turn and hands an ok reply to `parse`; an error reply becomes
   * the CordonError it stands for, and anything malformed ends the container.
   */
  const op = <T>(context: Omit<OpContext, 'sandbox'>, frames: readonly Record<string, unknown>[], maxReplyBytes: number, parse: (reply: Record<string, unknown>) => T): Promise<T> =>
    options.turn(async (link) => {
      const ctx = { ...context, sandbox };
      let reply: Record<string, unknown> = {};
      for (const frame of frames) {
        reply = await ask(link, frame, maxReplyBytes);
        try {
          const outcome = replyOutcome(reply, ctx);
          if (outcome !== 'ok') throw outcome;
        } catch (err) {
          if (err instanceof ReplyBreach) throw breach(link, err.message);
          throw err;
        }
      }
      try {
        return parse(reply);
      } catch (err) {
        if (err instanceof ReplyBreach) throw breach(link, err.message);
        throw err;
      }
    });

  const none = () => undefined;

  return {
    read(path: WorkspacePath, o): Promise<ReadResult> {
      const offset = count(o.offset, 0, Number.MAX_SAFE_INTEGER);
      const want = Math.min(count(o.limit, Number.POSITIVE_INFINITY, MAX_READ_BYTES), count(o.maxBytes, 0, MAX_READ_BYTES));
      const frame = { op: 'fs.read', id: 'fs', path: path.relative, offset, want };
      return op({ action: 'read', path: path.relative }, [frame], Math.ceil(want / 3) * 4 + REPLY_BASE_BYTES, (r) => readReply(r, offset, want));
    },
    async write(path, content, o) {
      if (content.length > o.maxBytes) {
        throw new CordonError('FS_TOO_LARGE', `${JSON.stringify(path.relative)} is larger than ${o.maxBytes} bytes; read it in parts with offset and limit`, { details: { limitBytes: o.maxBytes } });
      }
      // A large file goes in frames; the executor stages it in one temp file and renames it into place with the last.
      const frames: Record<string, unknown>[] = [];
      let at = 0;
      do {
        const piece = content.subarray(at, at + WRITE_FRAME_BYTES);
        at += piece.length;
        frames.push({ op: 'fs.write', id: 'fs', path: path.relative, data: piece.toString('base64'), ...(frames.length === 0 ? { first: true, createOnly: o.createOnly === true } : {}), ...(at < content.length ? { more: true } : {}) });
      } while (at < content.length);
      return op({ action: 'write', path: path.relative }, frames, REPLY_BASE_BYTES, none);
    },
    stat: (path) => op({ action: 'stat', path: path.relative }, [{ op: 'fs.stat', id: 'fs', path: path.relative }], REPLY_BASE_BYTES, (r) => statReply(r, path.relative)),
    list(path, o): Promise<ListResult> {
      const maxEntries = count(o.maxEntries, 0, MAX_LIST_ENTRIES);
      const depth = count(o.depth, 0, MAX_DEPTH + 1);
      const frame = { op: 'fs.list', id: 'fs', path: path.relative, depth, maxEntries };
      return op({ action: 'list', path: path.relative }, [frame], maxEntries * LIST_ENTRY_BYTES + REPLY_BASE_BYTES, (r) => listReply(r, path.relative, maxEntries));
    },
    mkdir: (path) => op({ action: 'mkdir', path: path.relative }, [{ op: 'fs.mkdir', id: 'fs', path: path.relative }], REPLY_BASE_BYTES, none),
    move(from, to, o) {
      const overwrite = o.overwrite === true;
      const frame = { op: 'fs.move', id: 'fs', from: from.relative, to: to.relative, overwrite };
      return op({ action: 'move', path: from.relative, to: to.relative, overwrite }, [frame], REPLY_BASE_BYTES, none);
    },
    remove: (path, o) => op({ action: 'remove', path: path.relative }, [{ op: 'fs.remove', id: 'fs', path: path.relative, recursive: o.recursive === true }], REPLY_BASE_BYTES, none),
  };
}
