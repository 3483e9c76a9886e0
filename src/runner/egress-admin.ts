import { resolve } from 'node:path';
import { CordonError, isCordonError } from '../core/errors.ts';
import {
  checkBatchLine,
  checkEgress,
  formatProblem,
  loadEgressPolicyFile,
  parseResolveOption,
  runEgressTests,
  validateEgressPolicies,
  MAX_BATCH_LINE_CHARS,
  type BatchLine,
  type BatchLineResult,
  type CheckEgressResult,
  type EgressPolicy,
  type EgressTestReport,
  type ValidationReport,
} from '../egress/index.ts';

export { formatProblem as formatEgressProblem, MAX_BATCH_LINE_CHARS, type BatchLine, type BatchLineResult, type CheckEgressResult, type EgressTestReport, type ValidationReport };

export function validateEgressDir(dir: string): ValidationReport {
  return validateEgressPolicies(resolve(dir));
}

export function testEgressDir(dir: string): Promise<EgressTestReport> {
  return runEgressTests(resolve(dir));
}

export interface EgressCheckArgs {
  policyFile: string;
  url?: string;
  connect?: string;
  method?: string;
  resolve: readonly string[];
}

/**
 * `cordon egress check`: decides without connecting or looking anything up.
 * Every problem with the arguments — including a policy file that does not
 * load — is USAGE (exit 2); a decision, allow or deny, is a result (exit 0).
 */
export async function checkEgressArgs(args: EgressCheckArgs): Promise<CheckEgressResult> {
  const { policy, table } = loadCheckArgs(args);
  return checkEgress({
    policy,
    ...(args.url === undefined ? {} : { url: args.url }),
    ...(args.connect === undefined ? {} : { connect: args.connect }),
    ...(args.method === undefined ? {} : { method: args.method }),
    resolve: table,
  });
}

/** `cordon egress check --batch`: the policy and `--resolve` options read once, then one decision a line. */
export interface EgressCheckBatch {
  /** null for a blank line or a comment; a malformed line gives an error result, never a throw. */
  check(lineNumber: number, line: BatchLine): Promise<BatchLineResult | null>;
}

export function createEgressCheckBatch(args: Omit<EgressCheckArgs, 'url' | 'connect' | 'method'>): EgressCheckBatch {
  const { policy, table } = loadCheckArgs(args);
  return { check: (lineNumber, line) => checkBatchLine(policy, table, lineNumber, line) };
}

/** Every problem with the arguments — including a policy file that does not load — is USAGE (exit 2). */
function loadCheckArgs(args: Pick<EgressCheckArgs, 'policyFile' | 'resolve'>): { policy: EgressPolicy; table: Record<string, string[]> } {
  const table: Record<string, string[]> = {};
  for (const spec of args.resolve) parseResolveOption(spec, table);
  try {
    return { policy: loadEgressPolicyFile(resolve(args.policyFile)), table };
  } catch (err) {
    if (isCordonError(err)) throw new CordonError('USAGE', `--policy ${args.policyFile}: ${err.message}`, { cause: err, details: err.details });
    throw err;
  }
}
