import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { readablePage } from '../src/tools/browse/index.ts';
import { startCordonServer } from './cordon-server.ts';
import { percentile } from './stats.ts';

/**
 * The file and browse tools through a real `cordon serve`, each against a peer measured in
 * the same interleaved rounds:
 * - file.edit (a search/replace in a session sandbox's workspace) vs the lightest call the
 *   pipeline serves, `code` "1" in the same session: what a file edit costs on top of auth,
 *   policy and audit;
 * - browse.fetch of a local article (per-call sandbox, guard, readable text) vs fetching it
 *   directly with undici and running the same readability step in this process.
 * Only loopback: the page is served here on 127.0.0.1, and the egress policy allows only it.
 */
const ROOT = resolve(import.meta.dirname, '..');
const ARTICLE = `<!doctype html><html><head><title>Bench article</title></head><body><nav>${'<a href="/n">nav</a> '.repeat(30)}</nav><article><h1>Agents in their lane</h1>${'<p>Cordon checks every call against the agent and the user it acts for, runs the tool in its own sandbox, and records the decision. <a href="/more">More</a>.</p>'.repeat(120)}</article></body></html>`;

const median = (values: readonly number[]) => percentile(values, 50);
const ratio = (a: readonly number[], b: readonly number[]) => median(a.map((v, i) => v / (b[i] ?? Number.NaN)));

export async function runToolsBench(rounds = 40): Promise<Record<string, number>> {
  const site = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(ARTICLE));
  await new Promise<void>((ok) => site.listen(0, '127.0.0.1', ok));
  const port = (site.address() as { port: number }).port;
  const pageUrl = `http://127.0.0.1:${port}/article`;
  const files: Record<string, string> = {};
  for (const f of readdirSync(join(ROOT, 'policies'))) if (f.endsWith('.cedar') || f.endsWith('.cedarschema')) files[`policies/${f}`] = readFileSync(join(ROOT, 'policies', f), 'utf8');
  files['policies/bench.cedar'] = '@id("bench-local-fetches-the-bench-page")\npermit (principal == Agent::"local", action == Action::"net.fetch", resource is Url) when { resource.host == "127.0.0.1" };\n';
  files['egress/bench-page.yaml'] = `name: bench-page\nmode: enforce\nallow:\n  - host: 127.0.0.1:${port}\nallow_cidrs: [127.0.0.1/32]\n`;
  files['sandboxes/browser.yaml'] = readFileSync(join(ROOT, 'sandboxes', 'browser.yaml'), 'utf8').replace(/^egressPolicy: .*$/m, 'egressPolicy: bench-page');
  const server = await startCordonServer({ isolate: { hosts: 1 }, maxSessionsPerPrincipal: 4, files, configExtra: 'policyDir: policies\negress:\n  policyDir: egress\n' });
  const out: Record<string, number> = {};
  try {
    const post = async (path: string, body: unknown): Promise<Record<string, unknown>> => {
      const res = await request(`${server.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${await server.token()}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const json = (await res.body.json()) as Record<string, unknown>;
      // A refused or failed call would measure nothing worth knowing.
      if (res.statusCode >= 300 || (json.status !== undefined && json.status !== 'ok')) throw new Error(`tools bench: ${path} answered ${res.statusCode}: ${JSON.stringify(json).slice(0, 300)}`);
      return json;
    };
    const timed = async (fn: () => Promise<unknown>) => {
      const t0 = performance.now();
      await fn();
      return performance.now() - t0;
    };

    // file.edit vs the lightest call, in one session sandbox.
    const sandbox = (await post('/v1/sandboxes', { profile: 'js' })).id as string;
    await post('/v1/invocations', { sandbox, tool: 'file.write', input: { path: 'notes.md', content: `${'line of notes\n'.repeat(200)}state: a\n` } });
    const edits: number[] = [];
    const calls: number[] = [];
    let state = 'a';
    const edit = () => {
      const next = state === 'a' ? 'b' : 'a';
      const p = post('/v1/invocations', { sandbox, tool: 'file.edit', input: { path: 'notes.md', search: `state: ${state}`, replace: `state: ${next}` } });
      state = next;
      return p;
    };
    const code = () => post('/v1/invocations', { sandbox, tool: 'code', input: { language: 'js', source: '1' } });
    for (let i = 0; i < 5; i++) {
      await edit();
      await code();
    }
    for (let i = 0; i < rounds; i++) {
      edits.push(await timed(edit));
      calls.push(await timed(code));
    }
    out.file_edit_p50_ms = median(edits);
    out.file_edit_vs_code_call = Math.round(ratio(edits, calls) * 1000) / 1000;

    // browse.fetch vs fetching and reading the page here.
    const fetches: number[] = [];
    const direct: number[] = [];
    const browse = () => post('/v1/invocations', { profile: 'browser', tool: 'browse.fetch', input: { url: pageUrl } });
    const peer = async () => {
      const res = await request(pageUrl);
      readablePage(await res.body.text(), pageUrl, { maxTextChars: 262_144, maxLinks: 500 });
    };
    for (let i = 0; i < 5; i++) {
      await browse();
      await peer();
    }
    for (let i = 0; i < rounds; i++) {
      fetches.push(await timed(browse));
      direct.push(await timed(peer));
    }
    out.browse_fetch_p50_ms = median(fetches);
    out.browse_fetch_direct_p50_ms = median(direct);
    out.browse_fetch_vs_direct = Math.round(ratio(fetches, direct) * 1000) / 1000;
  } finally {
    await server.stop();
    site.close();
  }
  return out;
}
