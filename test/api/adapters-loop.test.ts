import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromAnthropicToolUse, fromOpenAIFunctionCall, toAnthropicToolResult, toAnthropicTools, toOpenAIFunctionCallOutput, toOpenAITools, type CordonOutcome, type CordonTool } from '../../src/client/index.ts';
import { makeTestApprover } from '../support/approvers.ts';
import { claimsFor, ed25519Token } from '../support/tokens.ts';
import { makeTestAgent, makeTestEnv, type TestAgent, type TestEnv } from '../support/test-config.ts';
import { startTestServer, type TestServer } from '../support/test-server.ts';

// A scripted model loop against a real server: the tool list from GET /v1/tools, calls shaped as
// each provider sends them, Cordon's answers turned into what the model reads next.
let env: TestEnv;
let server: TestServer;
let tools: CordonTool[];
const coder = makeTestAgent('coder', ['coding']);
const reader = makeTestAgent('reader', ['research']);
const alice = makeTestApprover('alice');

async function api(agent: TestAgent, method: 'GET' | 'POST', path: string, body?: unknown): Promise<CordonOutcome & Record<string, unknown>> {
  const headers = { authorization: `Bearer ${ed25519Token(agent.privateKey, claimsFor(agent.id))}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) };
  const res = await request(`${server.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return (await res.body.json()) as CordonOutcome & Record<string, unknown>;
}

beforeAll(async () => {
  // Approvers configured, so the shipped policies hold a delete for approval.
  env = makeTestEnv([coder, reader], { approvals: { approvers: [{ name: alice.name, publicKey: alice.publicKeyPem, tools: ['file.*'] }] } });
  server = await startTestServer(env.config);
  tools = ((await api(coder, 'GET', '/v1/tools')) as unknown as { tools: CordonTool[] }).tools;
});
afterAll(async () => {
  await server?.close();
  env?.cleanup();
});

describe('an OpenAI strict-mode loop against a real server', () => {
  const run = async (agent: TestAgent, args: unknown) => {
    expect(toOpenAITools(tools).find((t) => t.name === 'code')?.strict).toBe(true);
    const call = fromOpenAIFunctionCall({ type: 'function_call', call_id: 'call_abc', name: 'code', arguments: JSON.stringify(args) }, tools);
    return toOpenAIFunctionCallOutput(call.callId, await api(agent, 'POST', '/v1/invocations', { tool: call.tool, input: call.input }));
  };

  it('runs a call sent with strict mode\'s nulls, and gives the model the result', async () => {
    const out = await run(coder, { language: 'javascript', source: '6 * 7', timeoutMs: null, memoryMb: null });
    expect(out.call_id).toBe('call_abc');
    expect(JSON.parse(out.output)).toMatchObject({ status: 'ok', value: 42 });
  });

  it('tells the model the tool ran and failed, and when Cordon refused', async () => {
    expect((await run(coder, { language: 'javascript', source: 'throw new Error("boom")', timeoutMs: null, memoryMb: null })).output).toMatch(/^The tool code ran and failed \(status error\).*boom/);
    expect((await run(reader, { language: 'javascript', source: '1', timeoutMs: null, memoryMb: null })).output).toMatch(/^Cordon refused this call, so the tool did not run \(POLICY_DENIED\): /);
    expect((await run(coder, { language: 'cobol', source: '1', timeoutMs: null, memoryMb: null })).output).toMatch(/\(INPUT_INVALID\): code: .*"field":"\/language"/);
  });
});

describe('an Anthropic loop against a real server', () => {
  it('runs a tool_use block and answers with a tool_result', async () => {
    expect(toAnthropicTools(tools).map((t) => t.name)).toContain('file_read');
    const call = fromAnthropicToolUse({ type: 'tool_use', id: 'toolu_01', name: 'code', input: { language: 'javascript', source: '"hi"' } }, tools);
    const block = toAnthropicToolResult(call.callId, await api(coder, 'POST', '/v1/invocations', { tool: call.tool, input: call.input }));
    expect(block).toMatchObject({ type: 'tool_result', tool_use_id: 'toolu_01', is_error: false });
    expect(JSON.parse(block.content)).toMatchObject({ value: 'hi' });
    const denied = toAnthropicToolResult('toolu_02', await api(reader, 'POST', '/v1/invocations', { tool: 'code', input: { language: 'javascript', source: '1' } }));
    expect(denied).toMatchObject({ is_error: true, content: expect.stringContaining('POLICY_DENIED') });
  });

  it('tells the model a held call has not run, naming its approval', async () => {
    const sandbox = (await api(coder, 'POST', '/v1/sandboxes', {})).id as string;
    await api(coder, 'POST', '/v1/invocations', { tool: 'file.write', input: { path: 'k.txt', content: 'x' }, sandbox });
    const call = fromAnthropicToolUse({ type: 'tool_use', id: 'toolu_03', name: 'file_delete', input: { path: 'k.txt' } }, tools);
    const held = await api(coder, 'POST', '/v1/invocations', { tool: call.tool, input: call.input, sandbox });
    const block = toAnthropicToolResult(call.callId, held);
    expect(block.is_error).toBe(false);
    expect(block.content).toMatch(/^This call has not run yet: it waits for a person to approve it/);
    expect(block.content).toContain(String((held as { approval: { id: string } }).approval.id));
  });
});
