/**
 * The egress layer's public API, for the isolate fetch bridge, the runner and
 * the CLI. Everything else in this folder is an implementation detail.
 */
export type { EgressIdentity } from './egress-identity.ts';
export { SANDBOX_ID } from './egress-identity.ts';

// Policies: load, validate, test, check.
export type { EgressPolicy, EgressRule, EgressMode, PolicyProblem } from './egress-policy.ts';
export { formatProblem } from './egress-policy.ts';
export { parseEgressPolicy, compileEgressPolicy, EGRESS_POLICY_KEYS, EGRESS_RULE_KEYS, EGRESS_INJECT_KEYS } from './parse-egress-policy.ts';
export { loadEgressPolicies, loadEgressPolicyFile, validateEgressPolicies, type ValidationReport } from './load-egress-policies.ts';
export { runEgressTests, loadEgressTestCases, EGRESS_TEST_FILE_KEYS, EGRESS_TEST_CASE_KEYS, type EgressTestReport, type EgressTestResult, type EgressTestCase } from './run-egress-tests.ts';
export { checkEgress, checkEgressVerdict, type CheckEgressInput, type CheckEgressResult } from './check-egress.ts';
export { checkBatchLine, parseBatchLine, MAX_BATCH_LINE_CHARS, type BatchLine, type BatchLineResult } from './check-batch.ts';

// Deciding.
export { decide, type EgressVerdict } from './egress-decider.ts';
export { parseEgressTarget, canonicalHost, type EgressRequest, type EgressTarget } from './canonical-host.ts';
export { classifyAddress, METADATA_ADDRESSES, type AddressClass } from './classify-address.ts';
export { EGRESS_REASONS, errorCodeFor, statusFor, type EgressReasonCode } from './egress-reason.ts';
export type { Resolver } from './resolver.ts';
export { createSystemResolver } from './resolver.ts';
export { createStaticResolver, parseResolveOption, ASSUMED_PUBLIC_ADDRESS } from './static-resolver.ts';
export { createEgressGuard, type EgressGuard, type EgressGuardOptions } from './egress-guard.ts';

// Secrets and audit.
export { createStaticSecretStore, type SecretStore } from './secret-template.ts';
export { redact, compileRedaction, createSecretRedactor, type CompiledRedaction, type SecretRedactor } from './secret-redaction.ts';
export { createMemoryAuditSink, type EgressAuditRecord, type EgressAuditSink } from './egress-audit.ts';
export { createEgressAuditLog } from './egress-audit-log.ts';

// Hooks the layers above attach per sandbox (policy engine, session facts).
export type { EgressHooks, EgressHookRequest, EgressHookResponse, EgressHookChannel } from './egress-hooks.ts';
export { targetUrl } from './egress-hooks.ts';

// Moving bytes.
export { createEgressProxy, type EgressProxy, type EgressProxyOptions, type OpenChannelOptions, type SandboxChannel } from './egress-proxy.ts';
export { createGuardedFetch, type GuardedFetch, type GuardedFetchRequest, type GuardedFetchResponse, type GuardedFetchOptions } from './guarded-fetch.ts';
export { createPinnedPools, type PinnedPools } from './pinned-pool.ts';
export { createDirectDialer, createLoopbackOnlyDialer, DialError, type Dialer } from './dialer.ts';
export { DEFAULT_EGRESS_TIMEOUTS, type EgressTimeouts } from './proxy-context.ts';
export { DEFAULT_EGRESS_LIMITS, createSandboxLimiter, type EgressLimits, type SandboxLimiter } from './proxy-limits.ts';
