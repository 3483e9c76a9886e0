import { CordonError } from '../../core/errors.ts';
import type { SandboxWorkspace } from '../workspace/index.ts';

/**
 * A container's /workspace for the file tools. Step 2 of issue 10 goes through the
 * executor; until it lands, file tools refuse container profiles with a clear error.
 */
export function executorWorkspace(sandboxId: string): SandboxWorkspace {
  const unavailable = async (): Promise<never> => {
    throw new CordonError('SANDBOX_UNAVAILABLE', 'file tools do not run on container profiles yet; use an isolate profile (js)', { details: { sandbox: sandboxId } });
  };
  return { read: unavailable, write: unavailable, stat: unavailable, list: unavailable, mkdir: unavailable, move: unavailable, remove: unavailable };
}
