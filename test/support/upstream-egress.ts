import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLoopbackOnlyDialer, createStaticResolver } from '../../src/egress/index.ts';
import { startUpstream, type LoopbackUpstream } from './loopback-fixture.ts';

const SHIPPED_POLICIES = resolve(import.meta.dirname, '..', '..', 'policies');
// The bundled profiles name bundled egress policies (browser.yaml: browse-open), so they come along.
const BUNDLED_EGRESS_POLICIES = resolve(import.meta.dirname, '..', '..', 'egress-policies');

/**
 * A loopback upstream `up.test` (127.0.0.2) that the `code` tool may fetch: an egress policy
 * `up` allowing it, the shipped Cedar policies plus a permit for net.fetch to it, and the
 * server options (static resolver, loopback-only dialer) that reach it. `close()` removes it all.
 */
export interface UpstreamEgress {
  readonly upstream: LoopbackUpstream;
  /** Config overrides: `policyDir` and `egress` (merge more into `egress` as needed). */
  readonly config: { policyDir: string; egress: { policyDir: string; toolPolicies: { code: string } } };
  /** For startTestServer. */
  readonly serverOptions: { egress: { resolver: ReturnType<typeof createStaticResolver>; dialer: ReturnType<typeof createLoopbackOnlyDialer> } };
  close(): Promise<void>;
}

export async function startUpstreamEgress(): Promise<UpstreamEgress> {
  const upstream = await startUpstream('127.0.0.2');
  const egressDir = mkdtempSync(join(tmpdir(), 'cordon-egress-'));
  cpSync(BUNDLED_EGRESS_POLICIES, egressDir, { recursive: true });
  writeFileSync(join(egressDir, 'up.yaml'), ['name: up', 'mode: enforce', 'allow:', `  - host: up.test:${upstream.port}`, 'allow_cidrs: [127.0.0.0/8]', ''].join('\n'));
  const cedarDir = mkdtempSync(join(tmpdir(), 'cordon-cedar-'));
  cpSync(SHIPPED_POLICIES, cedarDir, { recursive: true });
  writeFileSync(join(cedarDir, 'up-tests.cedar'), '@id("test-fetch-up")\npermit (principal, action == Action::"net.fetch", resource is Url) when { resource.host == "up.test" };\n');
  return {
    upstream,
    config: { policyDir: cedarDir, egress: { policyDir: egressDir, toolPolicies: { code: 'up' } } },
    serverOptions: { egress: { resolver: createStaticResolver({ 'up.test': '127.0.0.2' }), dialer: createLoopbackOnlyDialer() } },
    async close() {
      await upstream.close();
      for (const d of [egressDir, cedarDir]) rmSync(d, { recursive: true, force: true });
    },
  };
}
