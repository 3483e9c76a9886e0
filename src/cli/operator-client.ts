import { createHash, randomBytes, sign, type KeyObject } from 'node:crypto';
import { decisionSigningInput, type ApprovalVerdict, type ApprovalView, type DecisionStatement, type SignedDecision } from '../approvals/approval-types.ts';
import { canonicalJson } from '../audit/canonical-json.ts';
import { CordonError, ERROR_CODES, type ErrorCode } from '../core/errors.ts';
import { signOperatorToken } from '../identity/operator-token.ts';

/** Seconds a statement the CLI signs lives: long enough for a slow link, far under the service's cap. */
const STATEMENT_LIFETIME_SEC = 120;

export interface OperatorClient {
  list(status?: string): Promise<ApprovalView[]>;
  get(id: string): Promise<ApprovalView>;
  /** Fetches the approval, checks its hash against our own recomputation, signs here, posts. */
  decide(id: string, decision: ApprovalVerdict): Promise<{ view: ApprovalView; statement: DecisionStatement }>;
  loginLink(): Promise<{ url: string; expiresAt: string }>;
}

export function invocationHash(view: ApprovalView): string {
  return createHash('sha256').update(canonicalJson(view.invocation)).digest('hex');
}

export function createOperatorClient(options: { url: string; approver: string; privateKey: KeyObject }): OperatorClient {
  const base = options.url.replace(/\/+$/, '');
  async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    // A fresh one-request token each time: the listener remembers every jti it accepted.
    const token = await signOperatorToken({ approver: options.approver, privateKey: options.privateKey });
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        redirect: 'error',
      });
    } catch (err) {
      throw new CordonError('UNAVAILABLE', `no operator listener answers at ${base}; is cordon serve running (operator.port), or pass --url`, { cause: err });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new CordonError('UNAVAILABLE', `${base} answered ${res.status} with something that is not Cordon's JSON`);
    }
    if (!res.ok) {
      const e = (json as { error?: { code?: unknown; message?: unknown; details?: unknown } }).error;
      const code = typeof e?.code === 'string' && e.code in ERROR_CODES ? (e.code as ErrorCode) : 'INTERNAL';
      throw new CordonError(code, typeof e?.message === 'string' ? e.message : `HTTP ${res.status}`, { details: (e?.details ?? {}) as Record<string, unknown> });
    }
    return json as T;
  }
  const enc = encodeURIComponent;
  const client: OperatorClient = {
    async list(status) {
      return (await call<{ approvals: ApprovalView[] }>('GET', `/operator/v1/approvals${status === undefined ? '' : `?status=${enc(status)}`}`)).approvals;
    },
    get: (id) => call<ApprovalView>('GET', `/operator/v1/approvals/${enc(id)}`),
    async decide(id, decision) {
      const view = await client.get(id);
      const hash = invocationHash(view);
      // What we sign is what we were shown: a server that shows one call and hashes another is caught here.
      if (hash !== view.invocationHash) {
        throw new CordonError('OPERATOR_HASH_MISMATCH', `the server says the invocation hash of ${id} is ${String(view.invocationHash).slice(0, 64)}, but the invocation it shows hashes to ${hash}; nothing was signed`, { details: { id, server: view.invocationHash, computed: hash } });
      }
      const iat = Math.floor(Date.now() / 1000);
      const statement: DecisionStatement = { approvalId: view.id, invocationHash: hash, decision, approver: options.approver, iat, exp: iat + STATEMENT_LIFETIME_SEC, nonce: randomBytes(24).toString('base64url') };
      const signed: SignedDecision = { statement, signature: sign(null, decisionSigningInput(statement), options.privateKey).toString('base64url') };
      return { view: await call<ApprovalView>('POST', `/operator/v1/approvals/${enc(view.id)}/decision`, signed), statement };
    },
    loginLink: () => call<{ url: string; expiresAt: string }>('POST', '/operator/v1/login-links'),
  };
  return client;
}
