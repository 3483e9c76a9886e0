export { createOperatorApi, type OperatorApiOptions } from './operator-api.ts';
export { CSRF_HEADER, SESSION_COOKIE } from './operator-auth.ts';
export { OPERATOR_CSP, OPERATOR_SECURITY_HEADERS } from './security-headers.ts';
export type { OperatorApprover } from '../../identity/operator-token.ts';
