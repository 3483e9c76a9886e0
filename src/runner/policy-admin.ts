import type { AuthorizationRequest } from '../core/authorization.ts';
import { CordonError } from '../core/errors.ts';
import type { SessionFactsSnapshot } from '../core/session-facts.ts';
import { parseUserRef } from '../core/principal.ts';
import type { CordonConfig } from '../config/config-schema.ts';
import { loadAgentRegistry } from '../identity/agent-registry.ts';
import { loadUserDirectory } from '../identity/user-directory.ts';
import {
  createPolicyEngine,
  decisionDetails,
  formatPolicyProblem,
  loadPolicySet,
  resourceFromDescriptor,
  runPolicyTests,
  validatePolicies,
  type PolicyTestReport,
  type PolicyValidation,
  type ResolvedTool,
} from '../policy/index.ts';
import { BUILTIN_TOOLS } from '../tools/builtin-tools.ts';
import { createToolRegistry, type ToolRegistry } from '../tools/tool-registry.ts';
import { createPrincipalResolver, toAuthzRequest } from './policy-authorizer.ts';
import { validate } from './stages/validate.ts';

export { formatPolicyProblem, type PolicyTestReport, type PolicyValidation };

/** What `policy test` and `policy explain` assume of the sandbox they have not got. */
const OFFLINE = { egressTrusted: false };

let registry: ToolRegistry | undefined;
/** Compiled on first use: every CLI command imports this module, few of them need it. */
const tools = (): ToolRegistry => (registry ??= createToolRegistry(BUILTIN_TOOLS));

/** What a tool call is to the policy engine: the same derivation the pipeline uses. */
export function resolveToolCall(config: CordonConfig, name: string, input: unknown): ResolvedTool {
  const tool = validate(tools(), name, input);
  // Offline there is no sandbox: a URL counts as untrusted, the stricter reading.
  const descriptor = tool.definition.resource(input, OFFLINE);
  const resource = resourceFromDescriptor(descriptor);
  if (resource === null) throw new CordonError('INPUT_INVALID', `tool "${name}" derives a resource of type "${descriptor.type}" the policy engine cannot describe`);
  const a = tool.definition.annotationsFor?.(input) ?? tool.definition.annotations;
  return { action: tool.definition.action(input), resource, annotations: { readOnlyHint: a.readOnlyHint === true, destructiveHint: a.destructiveHint === true } };
}

export function validatePolicyDir(dir: string): PolicyValidation {
  return validatePolicies(dir);
}

/** `cordon policy test`: the YAML cases under `<dir>/tests`, with principals from config as a fallback. */
export async function testPolicyDir(config: CordonConfig, dir: string): Promise<PolicyTestReport> {
  const principals = createPrincipalResolver(
    loadAgentRegistry({ agents: config.agents, dataDir: config.dataDir, createMissingKeys: false, requireKeys: false }),
    loadUserDirectory(config.users, config.dataDir),
  );
  return runPolicyTests(dir, {
    resolveTool: (name, input) => resolveToolCall(config, name, input),
    resolveAgent: (id) => principals.agent(id),
    resolveUser: (id) => {
      const ref = parseUserRef(id);
      return ref === null ? undefined : principals.user(ref);
    },
  });
}

/** Session facts named on the command line: `sensitive_read`, `untrusted_content`, `calls=N`, `egress_host=HOST`. */
export function parseSessionFacts(specs: readonly string[]): SessionFactsSnapshot {
  const facts = { untrusted_content: false, sensitive_read: false, egress_hosts: [] as string[], calls: 0 };
  for (const spec of specs) {
    const [name, value] = spec.split('=', 2) as [string, string | undefined];
    if (name === 'sensitive_read' && value === undefined) facts.sensitive_read = true;
    else if (name === 'untrusted_content' && value === undefined) facts.untrusted_content = true;
    else if (name === 'calls' && value !== undefined && /^\d{1,9}$/.test(value)) facts.calls = Number(value);
    else if (name === 'egress_host' && value !== undefined && value !== '') facts.egress_hosts.push(value);
    else throw new CordonError('USAGE', `--session-fact ${JSON.stringify(spec.slice(0, 80))}: use sensitive_read, untrusted_content, calls=N or egress_host=HOST`);
  }
  return facts;
}

export interface ExplainRequest {
  agent: string;
  /** `<issuer>#<subject>`, or a bare subject for a local user (parseUserRef). */
  user: string | null;
  tool: string;
  input: unknown;
  facts: SessionFactsSnapshot;
  /** The sandbox profile the call runs in (policies may look at it); default: sandbox.defaultProfile. */
  profile?: string;
}

/** `cordon policy explain`: the decision the pipeline would make, without running anything. */
export function explainCall(config: CordonConfig, req: ExplainRequest): { text: string; details: Record<string, unknown> } {
  const agents = loadAgentRegistry({ agents: config.agents, dataDir: config.dataDir, createMissingKeys: false, requireKeys: false });
  const principals = createPrincipalResolver(agents, loadUserDirectory(config.users, config.dataDir));
  const tool = validate(tools(), req.tool, req.input);
  const user = req.user === null ? null : parseUserRef(req.user);
  if (req.user !== null && user === null) throw new CordonError('USAGE', '--user must be a subject (a local user) or <issuer>#<subject>', { details: { field: 'user' } });
  const request: AuthorizationRequest = {
    principal: { agent: req.agent, user, tokenId: 'explain', expiresAt: 0, scope: null },
    tool: tool.definition.name,
    action: tool.definition.action(req.input),
    resource: tool.definition.resource(req.input, OFFLINE),
    annotations: tool.definition.annotationsFor?.(req.input) ?? tool.definition.annotations,
    sandbox: { id: 'explain', profile: req.profile ?? config.sandbox.defaultProfile },
    session: req.facts,
  };
  const authz = toAuthzRequest(request, principals);
  if (typeof authz === 'string') throw new CordonError('AGENT_NOT_FOUND', authz, { details: { agent: req.agent } });
  const engine = createPolicyEngine(loadPolicySet(config.policyDir));
  try {
    const explanation = engine.explain(authz);
    return { text: explanation.explanation, details: decisionDetails(explanation) };
  } finally {
    engine.close();
  }
}
