import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createMemoryAuditSink } from '../src/audit/jsonl-audit-log.ts';
import { silentLogger } from '../src/core/logger.ts';
import { createLoopbackOnlyDialer, createStaticResolver } from '../src/egress/index.ts';
import { createRuntime } from '../src/runner/runtime.ts';
import { startBrowserSites } from '../test/support/browser-site.ts';
import { makeTestAgent, makeTestEnv } from '../test/support/test-config.ts';
import { claimsFor, ed25519Token } from '../test/support/tokens.ts';
import { chromium } from 'playwright-core';
import { percentile } from './stats.ts';

/**
 * browse.page on a local page (127.0.0.2, through the egress proxy), end to end through
 * runner.invoke: cold (Chromium's first start), per-call sandboxes (a context each), and
 * warm calls in one session sandbox (the page open, navigating each time). Prints JSON.
 *
 * The peer, in the same interleaved rounds as the warm calls: Playwright alone driving the same
 * Debian Chromium straight to the same page (no proxy, no policy, no sandbox), navigating and
 * reading the title and HTML. `browse_page_vs_playwright` is the median of the per-round ratios.
 */
export async function runBrowsePageBench(rounds = 30): Promise<Record<string, number>> {
  const sites = await startBrowserSites();
  const egressDir = mkdtempSync(join(tmpdir(), 'cordon-bench-egress-'));
  cpSync(resolve(import.meta.dirname, '..', 'egress-policies'), egressDir, { recursive: true });
  writeFileSync(join(egressDir, 'site.yaml'), ['name: site', 'mode: enforce', 'allow:', `  - host: site.test:${sites.site.port}`, 'allow_cidrs: [127.0.0.0/8]', ''].join('\n'));
  const cedarDir = mkdtempSync(join(tmpdir(), 'cordon-bench-cedar-'));
  cpSync(resolve(import.meta.dirname, '..', 'policies'), cedarDir, { recursive: true });
  writeFileSync(
    join(cedarDir, 'bench.cedar'),
    '@id("bench-browse")\npermit (principal == Agent::"bench", action in Action::"egress", resource is Url) when { resource.host == "site.test" };\n@id("bench-sessions")\npermit (principal == Agent::"bench", action == Action::"sandbox.create", resource == SandboxProfile::"browser");\n',
  );
  const agent = makeTestAgent('bench', ['bench']);
  const env = makeTestEnv([agent], { policyDir: cedarDir, egress: { policyDir: egressDir, toolPolicies: { 'browse.page': 'site', 'browse.fetch': 'site' } } });
  const runtime = createRuntime(env.config, { logger: silentLogger, audit: createMemoryAuditSink(), egress: { resolver: createStaticResolver({ 'site.test': '127.0.0.2' }), dialer: createLoopbackOnlyDialer() } });
  const principal = () => runtime.runner.authenticate(`Bearer ${ed25519Token(agent.privateKey, claimsFor(agent.id))}`);
  const url = `${sites.siteUrl}/plain`;
  const other = `${sites.siteUrl}/form`;
  const timed = async (run: () => Promise<unknown>) => {
    const t0 = performance.now();
    await run();
    return performance.now() - t0;
  };
  try {
    const p = await principal();
    const out: Record<string, number> = {};
    out.browse_page_cold_ms = Math.round(await timed(() => runtime.runner.invoke(p, { tool: 'browse.page', input: { url }, profile: 'browser' })));
    const perCall: number[] = [];
    for (let i = 0; i < rounds; i++) {
      perCall.push(
        await timed(async () => {
          const r = await runtime.runner.invoke(await principal(), { tool: 'browse.page', input: { url }, profile: 'browser' });
          if (r.status !== 'ok') throw new Error(`browse-page bench: ${url} answered ${r.status}: ${JSON.stringify(r.output).slice(0, 300)}`);
        }),
      );
    }
    out.browse_page_per_call_p50_ms = percentile(perCall, 50);
    out.browse_page_per_call_p95_ms = percentile(perCall, 95);
    const { id } = await runtime.runner.createSandbox(p, { profile: 'browser' });
    const raw = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--host-resolver-rules=MAP site.test 127.0.0.2'] });
    const rawPage = await (await raw.newContext()).newPage();
    const warm: number[] = [];
    const peer: number[] = [];
    try {
      for (let i = 0; i < rounds + 3; i++) {
        const target = i % 2 === 0 ? url : other;
        const ms = await timed(async () => {
          const r = await runtime.runner.invoke(await principal(), { tool: 'browse.page', input: { url: target }, sandbox: id });
          // A refused or failed page would measure nothing worth knowing.
          if (r.status !== 'ok') throw new Error(`browse-page bench: ${target} answered ${r.status}: ${JSON.stringify(r.output).slice(0, 300)}`);
        });
        const peerMs = await timed(async () => {
          await rawPage.goto(target);
          await rawPage.title();
          await rawPage.content();
        });
        if (i >= 3) {
          warm.push(ms);
          peer.push(peerMs);
        }
      }
    } finally {
      await raw.close();
    }
    out.browse_page_p50_ms = percentile(warm, 50);
    out.browse_page_warm_session_p95_ms = percentile(warm, 95);
    out.browse_page_playwright_p50_ms = percentile(peer, 50);
    out.browse_page_vs_playwright = Math.round(percentile(warm.map((w, i) => w / (peer[i] ?? Number.NaN)), 50) * 1000) / 1000;
    return out;
  } finally {
    await runtime.close();
    await sites.close();
    env.cleanup();
    for (const d of [egressDir, cedarDir]) rmSync(d, { recursive: true, force: true });
  }
}

if (import.meta.main) process.stdout.write(`${JSON.stringify(await runBrowsePageBench(), null, 2)}\n`);
