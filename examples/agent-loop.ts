/**
 * A scripted agent loop: what an LLM agent does with Cordon, without the LLM.
 *
 * The "model" is a fixed list of turns. Each turn looks at what the previous calls answered
 * and decides the next tool call, as a model would from its context: write a file, read it,
 * run code on what it read, edit the file with the result, run again, try something the
 * policy refuses and recover from the refusal, and ask for a delete that waits for a human.
 * Every call goes through the TypeScript client (`import { Cordon } from 'cordon'`), and the
 * loop prints a transcript of turns, calls and answers.
 *
 * Run it against `make run` (cordon serve with cordon.yaml, on http://127.0.0.1:7070):
 *
 *   node --no-node-snapshot examples/agent-loop.ts
 *
 * Options (flags win over the environment):
 *   --url URL          CORDON_URL            default http://127.0.0.1:7070
 *   --agent ID         CORDON_AGENT          default local
 *   --key FILE         CORDON_AGENT_KEY      default .cordon/agents/<agent>.key
 *   --approval-wait-ms CORDON_APPROVAL_WAIT_MS  how long to wait for the delete's approval (default 0)
 *
 * The key: `cordon serve` creates the `local` agent's Ed25519 key pair on first start under
 * its data directory, `<dataDir>/agents/local.key` (PKCS#8 PEM, mode 0600). cordon.yaml sets
 * `dataDir: .cordon` next to itself, so from the repository root that is .cordon/agents/local.key
 * (the default here). With no config file, the embedded default's data directory is `.cordon`
 * in the directory `cordon serve` was started from; `--data-dir` or CORDON_DATA_DIR move it.
 * Another agent: `cordon agents add NAME --group coding` writes `<dataDir>/agents/NAME.key`
 * (the shipped policies grant the `coding` group what this loop does).
 * The shipped policies let `local` (and `coding` agents) run JavaScript and work on files in a
 * sandbox's workspace; deleting waits for an operator (`cordon approvals approve ID`).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Cordon, CordonClientError, isHeld, type RunResult } from 'cordon';

const { values: flags } = parseArgs({
  options: { url: { type: 'string' }, agent: { type: 'string' }, key: { type: 'string' }, 'approval-wait-ms': { type: 'string' } },
  strict: true,
});
const url = flags.url ?? process.env.CORDON_URL ?? 'http://127.0.0.1:7070';
const agentId = flags.agent ?? process.env.CORDON_AGENT ?? 'local';
const keyFile = flags.key ?? process.env.CORDON_AGENT_KEY ?? `.cordon/agents/${agentId}.key`;
const approvalWaitMs = Number(flags['approval-wait-ms'] ?? process.env.CORDON_APPROVAL_WAIT_MS ?? '0');

/** What the "model" sees: every observation so far, by name. */
type Memory = Record<string, unknown>;
/** A model turn: from what it has seen, the next tool call (or null when it is done). */
interface Turn {
  readonly thought: string;
  readonly call: (memory: Memory) => { tool: string; input: Record<string, unknown> };
  /** What to remember from the answer. */
  readonly remember?: (memory: Memory, result: RunResult) => void;
  /** What the model does when Cordon refuses: a new thought and call, or nothing (stop). */
  readonly onRefusal?: (memory: Memory, err: CordonClientError) => Turn | null;
}

const print = (line = '') => process.stdout.write(`${line}\n`);
const brief = (value: unknown) => {
  const text = JSON.stringify(value);
  return text.length > 160 ? `${text.slice(0, 157)}...` : text;
};

const TURNS: Turn[] = [
  {
    thought: 'I will keep the task list in a file.',
    call: () => ({ tool: 'file.write', input: { path: 'todo.json', content: JSON.stringify({ tasks: ['write tests', 'fix the bug'], done: 0 }) } }),
  },
  {
    thought: 'Read the list back to know what is in it.',
    call: () => ({ tool: 'file.read', input: { path: 'todo.json' } }),
    remember: (m, r) => void (m.todo = (r as { output: { content: string } }).output.content),
  },
  {
    thought: 'Count the tasks with code, from the file I just read.',
    call: (m) => ({ tool: 'code', input: { language: 'javascript', source: `(() => {\n  const todo = ${String(m.todo)};\n  return todo.tasks.length;\n})()` } }),
    remember: (m, r) => void (m.count = (r as { output: { value: number } }).output.value),
  },
  {
    thought: 'Both tasks are done now: record the count in the file.',
    call: (m) => ({ tool: 'file.edit', input: { path: 'todo.json', search: '"done":0', replace: `"done":${String(m.count)}` } }),
  },
  {
    thought: 'Read the edited file.',
    call: () => ({ tool: 'file.read', input: { path: 'todo.json' } }),
    remember: (m, r) => void (m.todo = (r as { output: { content: string } }).output.content),
  },
  {
    thought: 'Run the check again on the new content.',
    call: (m) => ({ tool: 'code', input: { language: 'javascript', source: `(() => {\n  const todo = ${String(m.todo)};\n  return todo.done === todo.tasks.length ? 'all done' : 'work left';\n})()` } }),
    remember: (m, r) => void (m.verdict = (r as { output: { value: string } }).output.value),
  },
  {
    thought: 'Publish the summary where the whole machine can see it.',
    call: (m) => ({ tool: 'file.write', input: { path: '/etc/cordon-summary.txt', content: `${String(m.verdict)}\n` } }),
    onRefusal: (_m, err) => ({
      thought: `Refused (${err.code}): I may only write in my workspace. Write the summary there instead.`,
      call: (m) => ({ tool: 'file.write', input: { path: 'summary.txt', content: `${String(m.verdict)}\n` } }),
    }),
  },
  {
    thought: 'The task list is no longer needed: delete it.',
    call: () => ({ tool: 'file.delete', input: { path: 'todo.json' } }),
  },
];

async function main(): Promise<number> {
  let privateKey: string;
  try {
    privateKey = readFileSync(keyFile, 'utf8');
  } catch {
    print(`cannot read the agent key ${keyFile}: start the server once (make run) or pass --key FILE`);
    return 2;
  }
  await using cordon = new Cordon({ url, agent: { id: agentId, privateKey } });
  print(`agent ${agentId} at ${url}`);
  const sandbox = await cordon.sandboxes.create({ profile: 'js' });
  print(`sandbox ${sandbox.id} (profile ${sandbox.profile})`);
  const memory: Memory = {};
  try {
    let n = 0;
    for (const first of TURNS) {
      let turn: Turn | null = first;
      while (turn !== null) {
        const current: Turn = turn;
        turn = null;
        const { tool, input } = current.call(memory);
        print();
        print(`turn ${++n}  model: ${current.thought}`);
        print(`        call:  ${tool} ${brief(input)}`);
        try {
          const result = await cordon.run(tool, input, { sandbox: sandbox.id });
          if (isHeld(result)) {
            print(`        held:  pending_approval (${result.approval.reason}); approval ${result.approval.id}`);
            const after = await cordon.waitForApproval(result, { timeoutMs: approvalWaitMs });
            if (isHeld(after)) {
              // This run destroys its sandbox at the end; pass --approval-wait-ms to give the operator time.
              print(`        still waiting: an operator can run  cordon approvals approve ${result.approval.id}`);
            } else {
              print(`        ->     ${after.status} ${brief(after.output)}`);
            }
            continue;
          }
          print(`        ->     ${result.status} ${brief(result.output)}`);
          current.remember?.(memory, result);
        } catch (err) {
          if (!(err instanceof CordonClientError)) throw err;
          print(`        refused: ${err.code} (${err.status}) ${err.message}`);
          turn = current.onRefusal?.(memory, err) ?? null;
          if (turn === null) print('        model: I cannot do that; moving on.');
        }
      }
    }
  } finally {
    await cordon.sandboxes.destroy(sandbox);
    print();
    print(`sandbox ${sandbox.id} destroyed; verdict: ${String(memory.verdict)}`);
  }
  return 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    print(err instanceof CordonClientError ? `failed: ${err.code} (${err.status}) ${err.message}` : `failed: ${String(err)}`);
    process.exitCode = 1;
  },
);
