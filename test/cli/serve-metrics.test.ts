import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServe } from '../support/cli.ts';
import { parsePrometheusText } from '../support/prometheus-text.ts';

// `cordon serve` wires what the config says: /metrics on the runner listener, and the per-call
// log line on stderr (through the same redacting log destination as every other line).
const started: ChildProcess[] = [];
const dirs: string[] = [];
afterAll(() => {
  for (const child of started) if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function workDir(configYaml: string | null): string {
  const dir = mkdtempSync(join(tmpdir(), 'cordon-serve-metrics-'));
  dirs.push(dir);
  if (configYaml !== null) writeFileSync(join(dir, 'cordon.yaml'), configYaml);
  return dir;
}

const baseEnv = () => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' });

describe('cordon serve and metrics', () => {
  it('serves /metrics by default, counting the calls it answers', async () => {
    const serve = await startServe(workDir(null), { ...baseEnv(), CORDON_LOG_LEVEL: 'warn' }, started);
    const res = await fetch(`${serve.url}/v1/invocations`, { method: 'POST', headers: { authorization: `Bearer ${serve.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ tool: 'code', input: { language: 'javascript', source: '6 * 7' } }) });
    expect(res.status).toBe(200);
    const scraped = await fetch(`${serve.url}/metrics`);
    expect(scraped.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(parsePrometheusText(await scraped.text()).value('cordon_invocations_total', { tool: 'code', outcome: 'ok' })).toBe(1);
    serve.child.kill('SIGTERM');
  });

  it('leaves /metrics out with metrics.enabled: false, and logs one line per call with log.invocations: true', async () => {
    const serve = await startServe(workDir('metrics:\n  enabled: false\nlog:\n  level: info\n  invocations: true\n'), baseEnv(), started);
    let stderr = '';
    serve.child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    expect((await fetch(`${serve.url}/metrics`)).status).toBe(404);
    const res = await fetch(`${serve.url}/v1/invocations`, { method: 'POST', headers: { authorization: `Bearer ${serve.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ tool: 'code', input: { language: 'javascript', source: '6 * 7' } }) });
    const body = (await res.json()) as { id: string };
    await expect.poll(() => stderr.split('\n').filter((l) => l.includes('"msg":"invocation"')).length, { timeout: 5000 }).toBe(1);
    const line = JSON.parse(stderr.split('\n').find((l) => l.includes('"msg":"invocation"')) ?? '{}') as Record<string, unknown>;
    expect(line).toMatchObject({ invocation: body.id, agent: 'local', tool: 'code', outcome: 'ok', decision: { result: 'allow' } });
    expect(line).not.toHaveProperty('input');
    expect(line).not.toHaveProperty('output');
    serve.child.kill('SIGTERM');
  });
});
