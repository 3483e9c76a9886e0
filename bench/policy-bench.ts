/**
 * Policy decision latency with 1,000 generated policies and 100 agents.
 *
 *   node bench/policy-bench.ts      prints one JSON object
 *
 * Uncached numbers are for an engine whose slices are warm (every
 * principal/action combination seen once, as in a running server); the cold
 * first decision per combination is reported separately.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { compilePolicySet, createDecisionCache, createPolicyEngine, SCHEMA_FILE, type AuthzRequest, type AuthzResource, type PrincipalFacts } from '../src/policy/index.ts';

const POLICIES = 1000;
const AGENTS = 100;
const GROUPS = 20;
const USERS = 50;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * A plausible large deployment: most policies are scoped to one agent or one
 * group; a few dozen apply to everyone (secrets, chain rules, budgets).
 */
export function generatePolicies(count = POLICIES, agents = AGENTS, groups = GROUPS): string {
  const out: string[] = [];
  const add = (text: string) => out.push(`@id("p${out.length}")\n${text}`);
  const globals = 40;
  const perGroup = 10;
  for (let i = 0; out.length < globals; i++) {
    switch (i % 5) {
      case 0: add(`forbid (principal, action in [Action::"fs.read", Action::"fs.mutate"], resource is File) when { resource.segments.contains(".secret-${i}") };`); break;
      case 1: add(`forbid (principal, action in Action::"egress", resource is Url) when { context.session.sensitive_read && resource.host == "exfil-${i}.test" };`); break;
      case 2: add(`@approval("required")\nforbid (principal, action in Action::"fs.mutate", resource is File) when { context.session.untrusted_content && resource.path like "/workspace/protected-${i}/*" };`); break;
      case 3: add(`forbid (principal, action, resource) when { context.session.calls >= ${1000 + i} };`); break;
      default: add(`forbid (principal, action == Action::"code.exec", resource is Language) when { resource.name == "lang-${i}" };`);
    }
  }
  for (let g = 0; g < groups; g++) {
    for (let k = 0; k < perGroup; k++) {
      switch (k % 5) {
        case 0: add(`permit (principal in Group::"group-${g}", action == Action::"fs.read", resource is File) when { resource.path like "/workspace/shared-${g}-${k}/*" };`); break;
        case 1: add(`permit (principal in Group::"group-${g}", action == Action::"net.fetch", resource is Url) when { resource.host == "api-${g}-${k}.test" && resource.method == "GET" };`); break;
        case 2: add(`permit (principal in Group::"group-${g}", action == Action::"code.exec", resource is Language) when { ["javascript", "python"].contains(resource.name) };`); break;
        case 3: add(`forbid (principal in Group::"group-${g}", action in Action::"fs.mutate", resource is File) when { resource.path like "/workspace/readonly-${g}-${k}/*" };`); break;
        default: add(`permit (principal is User in Group::"group-${g}", action in [Action::"fs.read", Action::"fs.write"], resource is File) when { resource.path like "/workspace/*" };`);
      }
    }
  }
  for (let i = 0; out.length < count; i++) {
    const a = i % agents;
    const k = Math.floor(i / agents);
    switch (k % 8) {
      case 0: add(`permit (principal == Agent::"agent-${a}", action in [Action::"fs.read", Action::"fs.write"], resource is File) when { resource.path like "/workspace/agent-${a}/*" };`); break;
      case 1: add(`@approval("required")\npermit (principal == Agent::"agent-${a}", action == Action::"fs.delete", resource is File) when { resource.path like "/workspace/agent-${a}/*" };`); break;
      case 2: add(`permit (principal == Agent::"agent-${a}", action in Action::"egress", resource is Url) when { resource.scheme == "https" && resource.host like "*.agent-${a}.test" };`); break;
      case 3: add(`permit (principal == Agent::"agent-${a}", action == Action::"code.exec", resource is Language) when { resource.name == "javascript" };`); break;
      case 4: add(`forbid (principal == Agent::"agent-${a}", action == Action::"fs.write", resource is File) when { resource.name like "*.lock" };`); break;
      case 5: add(`permit (principal == Agent::"agent-${a}", action == Action::"sandbox.create", resource is SandboxProfile) when { resource.name == "default" };`); break;
      case 6: add(`permit (principal == Agent::"agent-${a}", action == Action::"fs.read", resource is File) when { principal.hasTag("team") && resource.path like "/workspace/team-*" };`); break;
      default: add(`forbid (principal == Agent::"agent-${a}", action in Action::"egress", resource is Url) when { resource.port != 443 };`);
    }
  }
  return out.join('\n\n');
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

function timeEach(requests: AuthzRequest[], decide: (r: AuthzRequest) => unknown): number[] {
  const samples = new Array<number>(requests.length);
  for (let i = 0; i < requests.length; i++) {
    const req = requests[i] as AuthzRequest;
    const start = process.hrtime.bigint();
    decide(req);
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  return samples.sort((a, b) => a - b);
}

function makeRequests(n: number, seed: number, delegatedShare: number): AuthzRequest[] {
  const next = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const agents: PrincipalFacts[] = Array.from({ length: AGENTS }, (_, i) => ({
    id: `agent-${i}`,
    groups: [`group-${i % GROUPS}`, `group-${(i * 7 + 3) % GROUPS}`],
    attributes: (i % 3 === 0 ? { team: `team-${i % 10}` } : {}) as Record<string, string>,
  }));
  const users: PrincipalFacts[] = Array.from({ length: USERS }, (_, i) => ({ id: `user-${i}@example.test`, groups: [`group-${i % GROUPS}`], attributes: {} }));
  const shapes: Array<(a: number) => [string, AuthzResource]> = [
    (a) => ['fs.read', { kind: 'file', path: `/workspace/agent-${a}/src/file-${Math.floor(next() * 1000)}.ts` }],
    (a) => ['fs.write', { kind: 'file', path: `/workspace/agent-${a}/out/file-${Math.floor(next() * 1000)}.json` }],
    (a) => ['fs.delete', { kind: 'file', path: `/workspace/agent-${a}/tmp/x-${Math.floor(next() * 1000)}` }],
    (a) => ['net.fetch', { kind: 'url', scheme: 'https', host: `api.agent-${a}.test`, port: 443, path: `/v1/items/${Math.floor(next() * 1000)}`, method: 'GET', trusted: next() < 0.5 }],
    (a) => ['browse.page', { kind: 'url', scheme: 'https', host: `www.agent-${a}.test`, port: 443, path: '/', method: 'GET', trusted: false }],
    () => ['code.exec', { kind: 'language', language: pick(['javascript', 'python', 'lang-4']) }],
    () => ['sandbox.create', { kind: 'profile', profile: 'default' }],
  ];
  return Array.from({ length: n }, () => {
    const a = Math.floor(next() * AGENTS);
    const [action, resource] = pick(shapes)(a);
    return {
      agent: agents[a] as PrincipalFacts,
      user: next() < delegatedShare ? pick(users) : null,
      action,
      resource,
      context: {
        session: { untrusted_content: next() < 0.2, sensitive_read: next() < 0.2, egress_hosts: next() < 0.5 ? ['api.github.com', `api.agent-${a}.test`] : [], calls: Math.floor(next() * 200) },
        sandbox: { profile: 'default' },
        annotations: { readOnlyHint: action === 'fs.read', destructiveHint: action === 'fs.delete' },
      },
    };
  });
}

export async function runPolicyBench(): Promise<Record<string, number>> {
  const schema = readFileSync(join(resolve(import.meta.dirname, '..', 'policies'), SCHEMA_FILE), 'utf8');
  const loadStart = performance.now();
  const set = compilePolicySet({ schema: { file: SCHEMA_FILE, text: schema }, policies: [{ file: 'generated.cedar', text: generatePolicies() }] });
  const loadMs = performance.now() - loadStart;
  if (set.policies.length !== POLICIES) throw new Error(`generated ${set.policies.length} policies, expected ${POLICIES}`);

  const engine = createPolicyEngine(set);
  const cached = createPolicyEngine(set, { cache: createDecisionCache({ maxEntries: 10_000 }) });
  try {
    const requests = makeRequests(8_000, 1, 0);
    const delegated = makeRequests(2_000, 2, 1);
    // First sight of each principal/action/resource-type: builds and preparses a slice.
    const cold = timeEach(requests.slice(0, 2000), (r) => engine.decide(r));
    timeEach(requests, (r) => engine.decide(r));
    timeEach(delegated, (r) => engine.decide(r));
    const warm = timeEach(requests, (r) => engine.decide(r));
    const warmDelegated = timeEach(delegated, (r) => engine.decide(r));

    const repeat = requests.slice(0, 4000);
    timeEach(repeat, (r) => cached.decide(r));
    const hits = timeEach(repeat, (r) => cached.decide(r));

    const allowed = requests.slice(0, 2000).filter((r) => engine.decide(r).result !== 'deny').length;
    return {
      policy_decision_p50_us: round(percentile(warm, 0.5)),
      policy_decision_p99_us: round(percentile(warm, 0.99)),
      policy_decision_cached_p50_us: round(percentile(hits, 0.5)),
      policy_decision_cached_p99_us: round(percentile(hits, 0.99)),
      policy_decision_delegated_p50_us: round(percentile(warmDelegated, 0.5)),
      policy_decision_delegated_p99_us: round(percentile(warmDelegated, 0.99)),
      policy_decision_cold_p50_us: round(percentile(cold, 0.5)),
      policy_set_load_ms: round(loadMs),
      policy_bench_allowed_share: round(allowed / 2000),
    };
  } finally {
    engine.close();
    cached.close();
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

if (import.meta.main) {
  console.log(JSON.stringify(await runPolicyBench()));
}
