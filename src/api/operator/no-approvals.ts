import type { ApprovalService } from '../../approvals/approval-types.ts';
import { CordonError } from '../../core/errors.ts';

/**
 * What the operator listener serves until the runtime has an approval store: nothing pending,
 * and every decision refused. (The integration replaces it with the runtime's ApprovalService.)
 */
export function createNoApprovals(): ApprovalService {
  return {
    list: () => [],
    get: () => null,
    decide: async () => {
      throw new CordonError('UNAVAILABLE', 'this Cordon has no approval store; nothing can be approved');
    },
  };
}
