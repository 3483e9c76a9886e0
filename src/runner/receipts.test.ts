import { describe, expect, it } from 'vitest';
import type { ChainedRecord } from '../audit/hash-chain.ts';
import type { Receipt } from '../audit/receipt.ts';
import type { ReceiptStore } from '../audit/receipt-store.ts';
import type { Principal } from '../core/principal.ts';
import { createReceiptReader } from './receipts.ts';

const ID = 'inv_0000000000000000000000000a';
const record = (user: string | null) => ({ agent: 'coder', user, invocation: ID }) as unknown as ChainedRecord;

/** A store holding one invocation's record; the reader's rule decides who sees it. */
function storeWith(r: ChainedRecord): ReceiptStore {
  return {
    observe: () => undefined,
    receipt: async (id, mayRead) => (id === ID && mayRead(r) ? ({ record: r } as unknown as Receipt) : null),
  };
}

const principal = (agent: string, user: { issuer: string; subject: string } | null): Principal => ({ agent, user, tokenId: 't', expiresAt: 0, scope: null });
const alice = { issuer: 'https://idp.test', subject: 'alice' };
const bob = { issuer: 'https://idp.test', subject: 'bob' };

describe('who may read a receipt', () => {
  it.each([
    ['the agent that acted for itself', record(null), principal('coder', null), true],
    ['another agent', record(null), principal('other', null), false],
    ['the agent acting for a user, on its own call', record(null), principal('coder', alice), false],
    ['the agent, acting for the same user', record('https://idp.test#alice'), principal('coder', alice), true],
    ['the agent, acting for another user', record('https://idp.test#alice'), principal('coder', bob), false],
    ['the agent, acting for itself, on a call it made for a user', record('https://idp.test#alice'), principal('coder', null), false],
    ['another agent acting for the same user', record('https://idp.test#alice'), principal('other', alice), false],
  ])('%s', async (_who, r, p, allowed) => {
    const read = createReceiptReader(storeWith(r)).read(p, ID);
    if (allowed) await expect(read).resolves.toMatchObject({ record: { invocation: ID } });
    else await expect(read).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('answers NOT_FOUND without a log (an in-memory sink) and for ids of another shape', async () => {
    await expect(createReceiptReader(null).read(principal('coder', null), ID)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(createReceiptReader(storeWith(record(null))).read(principal('coder', null), `${ID}x`)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
