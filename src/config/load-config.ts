import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { LineCounter, parseDocument } from 'yaml';
import { CordonError } from '../core/errors.ts';
import { CONFIG_SCHEMA, type CordonConfig } from './config-schema.ts';
import { DEFAULT_CONFIG, DEFAULT_CONFIG_FILE_NAME, DEFAULT_DATA_DIR_NAME, MAX_CONFIG_FILE_BYTES } from './defaults.ts';
import { deepFreeze, deepMerge, hasPath, type PlainObject } from './merge.ts';
import { parsePasswordScrypt } from './password-scrypt.ts';

/** Flags a command may pass; they win over everything else. */
export interface ConfigFlags {
  configPath?: string;
  dataDir?: string;
  host?: string;
  port?: number | string;
  /** The operator listener's port (`serve --operator-port`). */
  operatorPort?: number | string;
  logLevel?: string;
}

export interface LoadConfigOptions {
  flags?: ConfigFlags;
  /** The process environment; only CORDON_* variables (and DOCKER_HOST) are read. */
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
}

/** Environment variables Cordon reads (besides CORDON_CONFIG), and where each lands in the config. */
const ENVIRONMENT_VARIABLES: readonly (readonly [string, readonly string[]])[] = [
  ['CORDON_DATA_DIR', ['dataDir']],
  ['CORDON_POLICY_DIR', ['policyDir']],
  ['CORDON_HOST', ['server', 'host']],
  ['CORDON_PORT', ['server', 'port']],
  ['CORDON_OPERATOR_PORT', ['operator', 'port']],
  ['CORDON_LOG_LEVEL', ['log', 'level']],
  ['CORDON_AUDIENCE', ['auth', 'audience']],
  // As the docker CLI reads it: where the engine for container sandboxes is.
  ['DOCKER_HOST', ['sandbox', 'container', 'dockerHost']],
];

interface Layer {
  source: string;
  values: PlainObject;
  /** Maps a JSON pointer to a line number, for file layers. */
  lineOf?: (pointer: string[]) => number | undefined;
}

const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
const validateConfig = ajv.compile(CONFIG_SCHEMA);

/**
 * Defaults → config file → CORDON_* environment → flags, validated once and frozen.
 * Errors name where the bad value came from (file and line, variable, or flag) and the field.
 */
export function loadConfig(options: LoadConfigOptions = {}): CordonConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? {};
  const flags = options.flags ?? {};

  const configPathRaw = flags.configPath ?? nonEmpty(env.CORDON_CONFIG);
  let configFile: string | null = null;
  if (configPathRaw !== undefined) {
    configFile = resolve(cwd, configPathRaw);
    if (!existsSync(configFile)) {
      throw new CordonError('CONFIG_INVALID', `config file not found: ${configFile}`, { details: { source: configFile } });
    }
  } else if (existsSync(resolve(cwd, DEFAULT_CONFIG_FILE_NAME))) {
    configFile = resolve(cwd, DEFAULT_CONFIG_FILE_NAME);
  }

  const layers: Layer[] = [{ source: 'defaults', values: structuredClone(DEFAULT_CONFIG) as unknown as PlainObject }];
  const baseDir = configFile === null ? cwd : dirname(configFile);
  if (configFile !== null) layers.push(readConfigFile(configFile));
  layers.push({ source: 'environment', values: fromEnvironment(env) });
  layers.push({ source: 'flags', values: fromFlags(flags) });

  const merged = layers.reduce<PlainObject>((acc, layer) => deepMerge(acc, layer.values), {});
  merged.configFile = configFile;
  if (merged.dataDir === undefined) merged.dataDir = DEFAULT_DATA_DIR_NAME;

  if (!validateConfig(merged)) {
    throw configError(validateConfig.errors?.[0], layers);
  }
  const config = merged as unknown as CordonConfig & { dataDir: string; policyDir: string; agents: { publicKeyFile?: string }[] };

  // Relative paths in a file are relative to that file; from env or flags, to the working directory.
  const dataDirSource = [...layers].reverse().find((l) => hasPath(l.values, ['dataDir']))?.source;
  const dataDirBase = dataDirSource === 'environment' || dataDirSource === 'flags' ? cwd : baseDir;
  config.dataDir = isAbsolute(config.dataDir) ? config.dataDir : resolve(dataDirBase, config.dataDir);
  const policyDirSource = [...layers].reverse().find((l) => hasPath(l.values, ['policyDir']))?.source;
  const policyDirBase = policyDirSource === 'environment' || policyDirSource === 'flags' ? cwd : baseDir;
  config.policyDir = resolve(policyDirBase, config.policyDir);
  const egress = config.egress as { policyDir: string; secrets: Record<string, { file?: string }> };
  const egressDirFromFile = hasPath(layers[1]?.values ?? {}, ['egress', 'policyDir']);
  egress.policyDir = resolve(egressDirFromFile && configFile !== null ? baseDir : cwd, egress.policyDir);
  const sandbox = config.sandbox as { profileDir: string };
  const profileDirFromFile = hasPath(layers[1]?.values ?? {}, ['sandbox', 'profileDir']);
  sandbox.profileDir = resolve(profileDirFromFile && configFile !== null ? baseDir : cwd, sandbox.profileDir);
  for (const source of Object.values(egress.secrets)) if (source.file !== undefined) source.file = resolve(baseDir, source.file);
  const audit = config.audit as { checkpointMirror: string | null };
  if (audit.checkpointMirror !== null) audit.checkpointMirror = resolve(baseDir, audit.checkpointMirror);
  for (const agent of config.agents) {
    if (agent.publicKeyFile !== undefined) agent.publicKeyFile = resolve(baseDir, agent.publicKeyFile);
  }
  for (const approver of config.approvals.approvers as unknown as { publicKeyFile?: string }[]) {
    if (approver.publicKeyFile !== undefined) approver.publicKeyFile = resolve(baseDir, approver.publicKeyFile);
  }
  checkAgents(config, layers);
  checkApprovers(config, layers);
  checkLimits(config, layers);
  return deepFreeze(config);
}

function readConfigFile(path: string): Layer {
  let text: string;
  try {
    const size = statSync(path).size;
    if (size > MAX_CONFIG_FILE_BYTES) {
      throw new CordonError('CONFIG_INVALID', `${path}: file is ${size} bytes, over the ${MAX_CONFIG_FILE_BYTES}-byte limit`, { details: { source: path } });
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof CordonError) throw err;
    throw new CordonError('CONFIG_INVALID', `${path}: cannot read config file`, { cause: err, details: { source: path } });
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const first = doc.errors[0];
  if (first !== undefined) {
    const line = lineCounter.linePos(first.pos[0]).line;
    throw new CordonError('CONFIG_INVALID', `${path}:${line}: ${first.message.split('\n')[0]}`, { details: { source: path, line, reason: first.code } });
  }
  let values: unknown;
  try {
    values = doc.toJS({ maxAliasCount: 50 }) ?? {};
  } catch (err) {
    // e.g. an alias bomb ("billion laughs"): refused, never expanded.
    throw new CordonError('CONFIG_INVALID', `${path}: ${err instanceof Error ? err.message.split('\n')[0] : 'cannot read YAML'}`, { cause: err, details: { source: path } });
  }
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new CordonError('CONFIG_INVALID', `${path}:1: the config file must be a mapping`, { details: { source: path, line: 1, field: '/' } });
  }
  return {
    source: path,
    values: values as PlainObject,
    lineOf: (pointer) => {
      for (let n = pointer.length; n >= 0; n--) {
        const node = doc.getIn(pointer.slice(0, n).map((p) => (/^\d+$/.test(p) ? Number(p) : p)), true) as { range?: [number, number, number] } | undefined;
        if (node?.range !== undefined) return lineCounter.linePos(node.range[0]).line;
        if (n === 0) break;
      }
      return undefined;
    },
  };
}

function fromEnvironment(env: Readonly<Record<string, string | undefined>>): PlainObject {
  let out: PlainObject = {};
  for (const [name, path] of ENVIRONMENT_VARIABLES) {
    const raw = nonEmpty(env[name]);
    if (raw === undefined) continue;
    const value = name === 'CORDON_PORT' || name === 'CORDON_OPERATOR_PORT' ? parsePort(raw, `environment variable ${name}`, `/${path.join('/')}`) : raw;
    out = deepMerge(out, path.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value) as PlainObject);
  }
  return out;
}

function fromFlags(flags: ConfigFlags): PlainObject {
  const out: PlainObject = {};
  if (flags.dataDir !== undefined) out.dataDir = flags.dataDir;
  const server: PlainObject = {};
  if (flags.host !== undefined) server.host = flags.host;
  if (flags.port !== undefined) server.port = typeof flags.port === 'number' ? flags.port : parsePort(flags.port, 'flag --port');
  if (Object.keys(server).length > 0) out.server = server;
  if (flags.operatorPort !== undefined) out.operator = { port: typeof flags.operatorPort === 'number' ? flags.operatorPort : parsePort(flags.operatorPort, 'flag --operator-port', '/operator/port') };
  if (flags.logLevel !== undefined) out.log = { level: flags.logLevel };
  return out;
}

function parsePort(raw: string, source: string, field = '/server/port'): number {
  if (!/^\d{1,5}$/.test(raw.trim())) {
    throw new CordonError('CONFIG_INVALID', `${source}: port must be an integer from 0 to 65535, got ${JSON.stringify(raw.slice(0, 40))}`, { details: { source, field } });
  }
  return Number(raw.trim());
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function configError(err: ErrorObject | undefined, layers: Layer[]): CordonError {
  const pointer = (err?.instancePath ?? '').split('/').filter((p) => p !== '');
  const field = err?.keyword === 'additionalProperties' ? [...pointer, String((err.params as { additionalProperty?: string }).additionalProperty)] : err?.keyword === 'required' ? [...pointer, String((err.params as { missingProperty?: string }).missingProperty)] : pointer;
  const reason = err?.keyword === 'additionalProperties' ? 'is not a known setting' : err?.keyword === 'required' ? 'is required' : (err?.message ?? 'is invalid');
  return located(field, reason, layers);
}

function located(field: string[], reason: string, layers: Layer[]): CordonError {
  const fieldText = '/' + field.join('/');
  // The value that won came from the highest-precedence layer that sets it.
  const layer = [...layers].reverse().find((l) => hasPath(l.values, field) || hasPath(l.values, field.slice(0, -1))) ?? layers[0];
  const line = layer?.lineOf?.(field);
  const where = layer === undefined ? 'config' : line === undefined ? layer.source : `${layer.source}:${line}`;
  return new CordonError('CONFIG_INVALID', `${where}: ${fieldText} ${reason}`, {
    details: { source: layer?.source ?? 'config', field: fieldText, ...(line === undefined ? {} : { line }), reason },
  });
}

function checkAgents(config: CordonConfig, layers: Layer[]): void {
  const seen = new Set<string>();
  config.agents.forEach((agent, i) => {
    if (seen.has(agent.id)) throw located(['agents', String(i), 'id'], `duplicates agent id "${agent.id}"`, layers);
    seen.add(agent.id);
    if (agent.publicKey !== undefined && agent.publicKeyFile !== undefined) {
      throw located(['agents', String(i), 'publicKey'], 'and publicKeyFile are exclusive; give one', layers);
    }
  });
}

/** What the schema cannot say about approvers; their keys are parsed where they are used (approvals/approvers.ts). */
function checkApprovers(config: CordonConfig, layers: Layer[]): void {
  const { approvals } = config;
  if (approvals.maxPendingPerAgent > approvals.maxPending) throw located(['approvals', 'maxPendingPerAgent'], `must not exceed maxPending (${approvals.maxPending})`, layers);
  const seen = new Set<string>();
  approvals.approvers.forEach((approver, i) => {
    const at = (field: string) => ['approvals', 'approvers', String(i), field];
    if (seen.has(approver.name)) throw located(at('name'), `duplicates approver name "${approver.name}"`, layers);
    seen.add(approver.name);
    if (approver.publicKey !== undefined && approver.publicKeyFile !== undefined) throw located(at('publicKey'), 'and publicKeyFile are exclusive; give one', layers);
    if (approver.publicKey === undefined && approver.publicKeyFile === undefined) throw located(at('publicKey'), 'or publicKeyFile is required: an approver signs its decisions', layers);
    if (approver.passwordScrypt !== undefined) {
      const parsed = parsePasswordScrypt(approver.passwordScrypt);
      if (typeof parsed === 'string') throw located(at('passwordScrypt'), parsed, layers);
    }
  });
}

function checkLimits(config: CordonConfig, layers: Layer[]): void {
  const iso = config.sandbox.isolate;
  if (iso.maxHostsPerAgent > iso.maxHosts) throw located(['sandbox', 'isolate', 'maxHostsPerAgent'], `must not exceed maxHosts (${iso.maxHosts})`, layers);
  if (config.sandbox.maxSessionsPerAgent > config.sandbox.maxSessions) throw located(['sandbox', 'maxSessionsPerAgent'], `must not exceed maxSessions (${config.sandbox.maxSessions})`, layers);
  if (iso.hosts > iso.maxHosts) throw located(['sandbox', 'isolate', 'hosts'], `must not exceed maxHosts (${iso.maxHosts})`, layers);
}
