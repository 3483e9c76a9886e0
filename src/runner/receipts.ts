import type { ChainedRecord } from '../audit/hash-chain.ts';
import type { Receipt } from '../audit/receipt.ts';
import type { ReceiptStore } from '../audit/receipt-store.ts';
import { CordonError } from '../core/errors.ts';
import { principalUserKey, type Principal } from '../core/principal.ts';

export type { Receipt };

export interface ReceiptReader {
  /** GET /v1/invocations/:id/receipt. */
  read(principal: Principal, invocation: string): Promise<Receipt>;
}

const INVOCATION_ID = /^inv_[0-9a-z]{26}$/;

/**
 * Who may read a receipt: the principal that made the call — the same agent, acting for the
 * same user (or for none, when it acted for itself). A receipt names both principals, the
 * tool and the decision: another agent, or the same agent acting for another user, learns
 * nothing from it, not even that it exists (the same 404 as an unknown id).
 */
export function createReceiptReader(store: ReceiptStore | null): ReceiptReader {
  const notFound = (id: string) => new CordonError('NOT_FOUND', `no receipt for invocation ${JSON.stringify(id.slice(0, 64))} of yours`);
  return {
    async read(principal, invocation) {
      if (store === null || !INVOCATION_ID.test(invocation)) throw notFound(invocation);
      const mayRead = (r: ChainedRecord) => r.agent === principal.agent && r.user === principalUserKey(principal);
      const receipt = await store.receipt(invocation, mayRead);
      if (receipt === null) throw notFound(invocation);
      return receipt;
    },
  };
}
