import { CordonError } from '../core/errors.ts';
import { createLogger, type Logger, type LogLevel } from '../core/logger.ts';
import type { CordonConfig } from '../config/config-schema.ts';
import { loadConfig, type ConfigFlags } from '../config/load-config.ts';

/** Options every command accepts (declared on the root program). */
export interface GlobalOptions {
  config?: string;
  dataDir?: string;
  logLevel?: string;
}

/** Loads the config for a command: defaults → file → CORDON_* environment → flags. */
export function loadCliConfig(globals: GlobalOptions, extra: Omit<ConfigFlags, 'configPath' | 'dataDir' | 'logLevel'> = {}): CordonConfig {
  const flags: ConfigFlags = { ...extra };
  if (globals.config !== undefined) flags.configPath = globals.config;
  if (globals.dataDir !== undefined) flags.dataDir = globals.dataDir;
  if (globals.logLevel !== undefined) flags.logLevel = globals.logLevel;
  return loadConfig({ flags, env: process.env, cwd: process.cwd() });
}

/**
 * One-shot commands keep stderr quiet unless asked: they print their own
 * result, and only warnings or worse from the machinery.
 */
export function cliLogger(config: CordonConfig, globals: GlobalOptions, fallback: LogLevel): Logger {
  const level = (globals.logLevel ?? (config.log.level === 'info' ? fallback : config.log.level)) as LogLevel;
  return createLogger(level);
}

export function usage(message: string, details: Record<string, unknown> = {}): CordonError {
  return new CordonError('USAGE', message, { details });
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** commander accumulator for repeatable options (`--group a --group b`). */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];
