import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { decisionSigningInput, type ApprovalVerdict, type ApprovalView, type DecisionStatement, type SignedDecision } from '../../src/approvals/approval-types.ts';

export interface TestApprover {
  name: string;
  privateKey: KeyObject;
  publicKeyPem: string;
}

/** An approver's key pair, made at test time; no key ever lives in the repository. */
export function makeTestApprover(name: string): TestApprover {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { name, privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

/** A statement about `approval` as an honest approver would make it, with fields overridden. */
export function statementFor(approval: Pick<ApprovalView, 'id' | 'invocationHash'>, approver: string, decision: ApprovalVerdict, overrides: Partial<DecisionStatement> = {}): DecisionStatement {
  const now = Math.floor(Date.now() / 1000);
  return { approvalId: approval.id, invocationHash: approval.invocationHash, decision, approver, iat: now, exp: now + 120, nonce: randomBytes(16).toString('base64url'), ...overrides };
}

/** Signs exactly what Cordon verifies: the context line, then the statement's canonical JSON. */
export function signStatement(key: KeyObject, statement: DecisionStatement): SignedDecision {
  return { statement, signature: sign(null, decisionSigningInput(statement), key).toString('base64url') };
}

export function signedDecision(approver: TestApprover, approval: Pick<ApprovalView, 'id' | 'invocationHash'>, decision: ApprovalVerdict, overrides: Partial<DecisionStatement> = {}): SignedDecision {
  return signStatement(approver.privateKey, statementFor(approval, approver.name, decision, overrides));
}
