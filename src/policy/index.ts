/**
 * The policy engine: Cedar policies over agent and user principals, with
 * session facts, approval annotations, explanations and policy tests.
 */
export type { AuthzContext, AuthzRequest, AuthzResource, FileResource, LanguageResource, PrincipalFacts, ProfileResource, ResourceDescriptor, SessionFacts, ToolAnnotations, UrlResource } from './authz-request.ts';
export { emptySessionFacts, NO_ANNOTATIONS, parseUrlResource, resourceFromDescriptor } from './authz-request.ts';
export type { RequestContext } from './build-entities.ts';
export { canonicaliseRequest, REQUEST_LIMITS, type CanonicalRequest } from './canonical-request.ts';
export { createDecisionCache, type DecisionCache } from './decision-cache.ts';
export { decisionDetails, explainDecision } from './explain-decision.ts';
export { compilePolicySet, loadPolicySet, SCHEMA_FILE, validatePolicies, type PolicyValidation } from './load-policy-set.ts';
export type { EvaluatedRequest, PolicyDecision, PolicyEvaluationError, PolicyExplanation, PrincipalDecision } from './policy-decision.ts';
export { mayEverPermit, type PermitSubject } from './permit-scope.ts';
export { createPolicyEngine, type PolicyEngine, type PolicyEngineOptions } from './policy-engine.ts';
export { formatPolicyProblem, type LoadedPolicySet, type PolicyInfo, type PolicyProblem, type PolicySetSources, type PolicySource } from './policy-set.ts';
export { parsePolicyTestFile, type PolicyTestCase, type PolicyTestFile } from './policy-test-file.ts';
export { runPolicyTests, type PolicyTestOptions, type PolicyTestReport, type PolicyTestResult, type ResolvedTool } from './run-policy-tests.ts';
