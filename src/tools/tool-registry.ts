import { Ajv, type ValidateFunction } from 'ajv';
import { CordonError } from '../core/errors.ts';
import type { ToolDefinition } from './tool.ts';

export interface RegisteredTool {
  readonly definition: ToolDefinition;
  /** Throws INPUT_INVALID naming the first failing field; returns the input unchanged. */
  validate(input: unknown): unknown;
}

export interface ToolRegistry {
  get(name: string): RegisteredTool | undefined;
  list(): readonly RegisteredTool[];
}

const TOOL_NAME = /^[a-z][a-z0-9_.-]{0,63}$/;

/** Compiles every tool's input schema once, at start-up. */
export function createToolRegistry(tools: readonly ToolDefinition[]): ToolRegistry {
  // Strict: a schema with a typo fails at start-up, not silently at call time.
  const ajv = new Ajv({ allErrors: false, strict: true, useDefaults: false, coerceTypes: false });
  const byName = new Map<string, RegisteredTool>();
  for (const definition of tools) {
    if (!TOOL_NAME.test(definition.name)) throw new Error(`invalid tool name ${definition.name}`);
    if (byName.has(definition.name)) throw new Error(`duplicate tool ${definition.name}`);
    const check = ajv.compile(definition.inputSchema);
    byName.set(definition.name, Object.freeze({ definition, validate: (input: unknown) => validateWith(check, definition.name, input) }));
  }
  const all = Object.freeze([...byName.values()]);
  return { get: (name) => byName.get(name), list: () => all };
}

function validateWith(check: ValidateFunction, tool: string, input: unknown): unknown {
  if (check(input)) return input;
  const err = check.errors?.[0];
  let field = err?.instancePath ?? '';
  let reason = err?.message ?? 'is invalid';
  if (err?.keyword === 'required') {
    field = `${field}/${String((err.params as { missingProperty: string }).missingProperty)}`;
    reason = 'is required';
  } else if (err?.keyword === 'additionalProperties') {
    field = `${field}/${String((err.params as { additionalProperty: string }).additionalProperty)}`;
    reason = 'is not a known field';
  }
  const shown = field === '' ? 'input' : `input${field}`;
  return fail(tool, shown, field === '' ? '/' : field, reason);
}

function fail(tool: string, shown: string, field: string, reason: string): never {
  throw new CordonError('INPUT_INVALID', `${tool}: ${shown} ${reason}`, { details: { tool, field, reason } });
}
