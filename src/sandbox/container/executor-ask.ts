import { CordonError } from '../../core/errors.ts';
import { ExecutorLinkError, type ExecutorLink } from './executor-link.ts';

/** What a request is, for the caller's message ("a file transfer", "a workspace operation"), and whose. */
export interface AskContext {
  readonly what: string;
  readonly timeoutMs: number;
  readonly sandbox?: string;
}

const withSandbox = (details: Record<string, unknown>, sandbox: string | undefined) => (sandbox === undefined ? details : { ...details, sandbox });

/** The executor said something it may not: its container is ended (closing the link ends the sandbox), the runner goes on. */
export function protocolBreach(link: ExecutorLink, why: string, sandbox?: string, cause?: unknown): CordonError {
  link.close();
  return new CordonError('SANDBOX_FAILED', `the sandbox broke the executor protocol (${why}); its container was ended`, { ...(cause === undefined ? {} : { cause }), details: withSandbox({ reason: 'protocol' }, sandbox) });
}

/** One frame and its reply (at most maxReplyBytes), within the timeout; a silent executor has its container ended. */
export async function askExecutor(link: ExecutorLink, message: Record<string, unknown>, maxReplyBytes: number, context: AskContext): Promise<Record<string, unknown>> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CordonError('SANDBOX_FAILED', `the sandbox did not answer ${context.what} within ${context.timeoutMs} ms; its container was ended`, { details: withSandbox({ reason: 'timeout' }, context.sandbox) })), context.timeoutMs);
  });
  try {
    return await Promise.race([link.request(message, maxReplyBytes), late]);
  } catch (err) {
    if (err instanceof CordonError) {
      link.close();
      throw err;
    }
    if (err instanceof ExecutorLinkError) {
      if (err.kind === 'protocol') throw protocolBreach(link, err.message, context.sandbox, err);
      throw new CordonError('SANDBOX_FAILED', `the sandbox's executor went away during ${context.what} (${err.message})`, { cause: err, details: withSandbox({ reason: err.kind }, context.sandbox) });
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
