import { resolve } from 'node:path';
import { CordonError, isCordonError } from '../core/errors.ts';
import {
  checkEgress,
  formatProblem,
  loadEgressPolicyFile,
  parseResolveOption,
  runEgressTests,
  validateEgressPolicies,
  type CheckEgressResult,
  type EgressTestReport,
  type ValidationReport,
} from '../egress/index.ts';

export { formatProblem as formatEgressProblem, type CheckEgressResult, type EgressTestReport, type ValidationReport };

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
  const table: Record<string, string[]> = {};
  for (const spec of args.resolve) parseResolveOption(spec, table);
  let policy;
  try {
    policy = loadEgressPolicyFile(resolve(args.policyFile));
  } catch (err) {
    if (isCordonError(err)) throw new CordonError('USAGE', `--policy ${args.policyFile}: ${err.message}`, { cause: err, details: err.details });
    throw err;
  }
  return checkEgress({
    policy,
    ...(args.url === undefined ? {} : { url: args.url }),
    ...(args.connect === undefined ? {} : { connect: args.connect }),
    ...(args.method === undefined ? {} : { method: args.method }),
    resolve: table,
  });
}
