/**
 * The shape of `cordon.yaml`. One JSON Schema validates the merged result of
 * every source (defaults, file, environment, flags), so a bad value is refused
 * the same way wherever it came from.
 */

export interface AgentConfig {
  readonly id: string;
  readonly description?: string;
  /** SPKI PEM of the agent's Ed25519 public key. */
  readonly publicKey?: string;
  /** Path to a PEM file holding the public key (relative to the config file). */
  readonly publicKeyFile?: string;
  /** Create a key pair under the data directory on first run (local development). */
  readonly createKey?: boolean;
  /** Groups and attributes the policy engine sees on `Agent::"<id>"`; policies grant by group. */
  readonly groups?: readonly string[];
  readonly attributes?: Readonly<Record<string, string>>;
  /** Egress policy for this agent's sandboxes, overriding egress.toolPolicies; null: no egress. */
  readonly egressPolicy?: string | null;
}

/** Where a secret's value comes from; the value itself never appears in config. */
export type SecretSourceConfig = { readonly env: string } | { readonly file: string };

export interface EgressConfig {
  /** Egress policies (`*.yaml`), by their `name`. */
  readonly policyDir: string;
  /** Which egress policy a tool's sandboxes get; a tool not listed gets no egress at all. */
  readonly toolPolicies: Readonly<Record<string, string>>;
  /** Values for `${secret:NAME}` in policies. */
  readonly secrets: Readonly<Record<string, SecretSourceConfig>>;
  /** SPIFFE trust domain in sandbox identity URIs. */
  readonly trustDomain: string;
  readonly maxResponseBytes: number;
  readonly fetchTimeoutMs: number;
  /** Each sandbox's egress share, counted over every channel (isolate fetch and proxy alike). */
  readonly sandboxLimits: {
    /** Upstream requests (each redirect hop) and tunnels over the sandbox's lifetime. */
    readonly maxRequests: number;
    /** Bytes both ways over the sandbox's lifetime. */
    readonly maxTotalBytes: number;
    /** Upstream requests and tunnels open at once. */
    readonly maxConcurrentConnections: number;
    /** Sustained request rate, and the burst allowed above it. */
    readonly maxRequestsPerSecond: number;
    readonly requestBurst: number;
  };
}

export interface UserConfig {
  /** The user's subject: the `sub` their tokens carry. */
  readonly id: string;
  /**
   * The issuer that vouches for them (the exact `iss`). Unset: a local user (`cordon-local-users`),
   * never a user of some OIDC issuer, so an entry cannot silently match a second issuer's subject.
   */
  readonly issuer?: string;
  readonly groups?: readonly string[];
  readonly attributes?: Readonly<Record<string, string>>;
}

/** An OIDC issuer whose tokens name the users agents act for. */
export interface UserIssuerConfig {
  /** The exact `iss` its tokens carry. */
  readonly issuer: string;
  /** Where its signing keys are published (a JWKS document). */
  readonly jwksUrl: string;
  /** The `aud` its tokens must carry for this Cordon; defaults to auth.audience. */
  readonly audience?: string;
  /**
   * Agents that may act for this issuer's users when a user token carries no `may_act`
   * (token exchange). Default none: a token without `may_act` delegates to no agent.
   */
  readonly actors?: readonly string[];
}

/** Cordon's own user issuer for local runs (`cordon users add|token`). */
export interface LocalUsersConfig {
  readonly enabled: boolean;
  /** As `userIssuers[].actors`, for local user tokens without `may_act`. */
  readonly actors: readonly string[];
}

export interface IsolateConfig {
  /** Unowned isolate hosts kept started (warm spares); default one per core. */
  readonly hosts: number;
  readonly maxHosts: number;
  /** Hosts one agent may hold at once: its share of the machine. */
  readonly maxHostsPerAgent: number;
  /** OS-level memory cap of each isolate host process. */
  readonly hostMemoryMb: number;
  /** cgroup where one is writable, else the supervisor's RSS watch (auto); or force one. */
  readonly memoryCap: 'auto' | 'cgroup' | 'rss';
  /** Fresh isolates each host keeps ready, so creation is off the call's path. */
  readonly warmIsolatesPerHost: number;
  /** An owned host with no call and no session is retired after this long. */
  readonly idleHostMs: number;
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  /** Calls one agent may have running at once (its share of maxConcurrent); unset: half, at least 1. */
  readonly maxConcurrentPerAgent?: number;
  /** Calls one agent may have waiting (its share of maxQueued); unset: half, at least 1 (0 when maxQueued is 0). */
  readonly maxQueuedPerAgent?: number;
}

export interface SandboxConfig {
  /** Sandbox profiles (`*.yaml`), one per file. */
  readonly profileDir: string;
  /** The profile a call runs in when it names none (and the tool allows it). */
  readonly defaultProfile: string;
  /** Live session sandboxes in all. */
  readonly maxSessions: number;
  /** Live session sandboxes one agent may hold, across the users it acts for: its share. */
  readonly maxSessionsPerAgent: number;
  readonly isolate: IsolateConfig;
  readonly container: ContainerConfig;
}

/** Container sandboxes (profiles with `backend: container`), where a Docker engine answers. */
export interface ContainerConfig {
  /** The engine, as DOCKER_HOST says it (unix:///path or tcp://host:port); null: the local socket. */
  readonly dockerHost: string | null;
  /** Container calls running at once, across agents; each agent gets about half. */
  readonly maxConcurrent: number;
  /** Calls waiting beyond that; then RATE_LIMITED. */
  readonly maxQueued: number;
  /** How long a new container has to start and connect its executor. */
  readonly startTimeoutMs: number;
  /** Containers of runners that are gone are removed at start-up and this often. */
  readonly gcIntervalMs: number;
  /** Live container session sandboxes in all, and one agent's share (each holds a container). */
  readonly maxSessions: number;
  readonly maxSessionsPerAgent: number;
}

/** An operator who may approve or deny calls that policy holds for a human. */
export interface ApproverConfig {
  /** What a signed decision names in `approver`. */
  readonly name: string;
  /** SPKI PEM of the approver's Ed25519 public key; exactly one of publicKey and publicKeyFile. */
  readonly publicKey?: string;
  /** Path to a PEM file holding it (relative to the config file). */
  readonly publicKeyFile?: string;
  /** Tools this approver may decide: names, `prefix.*`, or `*`. */
  readonly tools: readonly string[];
  /** When set, only calls whose agent or user is in one of these groups. */
  readonly groups?: readonly string[];
  /** For the operator web login: `scrypt$N$r$p$<salt base64>$<hash base64>` (see password-scrypt.ts). */
  readonly passwordScrypt?: string;
}

/** Calls that wait for a human (`require_approval`). */
export interface ApprovalsConfig {
  /** How long a pending approval waits for a decision before it expires. */
  readonly ttlMs: number;
  /** Pending approvals in all; beyond this, new ones get 429 (quota `approvals_pending`). */
  readonly maxPending: number;
  /** Pending approvals of one agent (quota `agent_approvals_pending`). */
  readonly maxPendingPerAgent: number;
  /** The longest `GET /v1/invocations/:id?waitMs=` may wait. */
  readonly maxWaitMs: number;
  readonly approvers: readonly ApproverConfig[];
}

/** Call sessions: the facts (`session` in a call) that chain rules decide on. */
export interface SessionsConfig {
  /** Open sessions in all; beyond this, new ones get 429 (quota `sessions`). */
  readonly maxOpen: number;
  /** Open sessions of one agent, across the users it acts for (quota `agent_sessions`). */
  readonly maxOpenPerAgent: number;
  /** A session unused this long is forgotten. */
  readonly idleTtlMs: number;
}

/** Each agent's share of call starts, allowed or denied (quota `agent_call_rate`). */
export interface CallsConfig {
  readonly perSecondPerAgent: number;
  readonly burstPerAgent: number;
}

export interface CordonConfig {
  /** Absolute path of the config file that was loaded, or null for the embedded default. */
  readonly configFile: string | null;
  readonly dataDir: string;
  /** Cedar policies (`*.cedar`, `cordon.cedarschema`, `tests/*.yaml`). */
  readonly policyDir: string;
  readonly server: {
    readonly host: string;
    readonly port: number;
    readonly bodyLimitBytes: number;
    /**
     * A response sent before its request body was read (401, 413, 415…) is followed by reading
     * and discarding the rest of the body, so clients that write the whole body before reading
     * see the answer instead of a reset; at most this many bytes, for at most this long, then the
     * connection is closed.
     */
    readonly unreadBodyDiscardBytes: number;
    readonly unreadBodyDiscardMs: number;
    /**
     * The URL clients reach the runner API at (e.g. `https://cordon.example.internal` behind a TLS
     * proxy), named by the MCP OAuth metadata and the 401's resource_metadata pointer. Unset: the
     * listener's own address. Never taken from a request's Host header.
     */
    readonly publicUrl?: string;
  };
  /**
   * The operator listener: approvals (list, show, approve, deny) and the approvals page. Its own
   * server, apart from the runner API, so nothing an agent can reach serves an operator route.
   */
  readonly operator: {
    readonly enabled: boolean;
    readonly host: string;
    readonly port: number;
  };
  readonly auth: {
    /** The `aud` agent tokens must carry: this Cordon instance. */
    readonly audience: string;
    readonly maxTokenLifetimeSec: number;
    readonly clockToleranceSec: number;
    /** The `iss` of tokens Cordon itself signs (token exchange, client credentials). */
    readonly issuer: string;
    /** Lifetime of tokens Cordon issues; at most 15 minutes. */
    readonly issuedTokenLifetimeSec: number;
    /** Longest a single-use client assertion may live. */
    readonly assertionMaxLifetimeSec: number;
    /**
     * Token-endpoint URLs an assertion may name as its `aud` (RFC 7523 §3), besides `audience`:
     * this instance's public URL(s) + `/v1/token`. `cordon serve` adds the URL it listens on.
     */
    readonly tokenEndpointUrls: readonly string[];
    /** OIDC issuers trusted for user tokens. */
    readonly userIssuers: readonly UserIssuerConfig[];
    readonly localUsers: LocalUsersConfig;
  };
  readonly log: {
    readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
    /** One info line per ended tool call (ids, tool, action, resource, outcome, decision, duration; never input or output). */
    readonly invocations: boolean;
  };
  /** GET /metrics on the runner listener (Prometheus text format; docs/metrics.md). */
  readonly metrics: { readonly enabled: boolean };
  readonly audit: {
    /**
     * Repeated refusals that carry no policy decision (failed authentication per source,
     * RATE_LIMITED per agent and quota) are written once, then counted for this long and
     * written as one record with `count`, `firstAt` and `lastAt`.
     */
    readonly repeatWindowMs: number;
    /** Distinct (source, reason) keys counted at once; beyond this, one "other" bucket. */
    readonly repeatMaxKeys: number;
    /**
     * The log's name in its signed checkpoints (the C2SP checkpoint origin) and the name of the
     * key that signs them: what an outside verifier pins. No spaces, no "+".
     */
    readonly origin: string;
    /** Sign a checkpoint after this many records… */
    readonly checkpointEvery: number;
    /** …or this long after the last one when records came since (and always on close). */
    readonly checkpointIntervalMs: number;
    /**
     * A second file each checkpoint is copied to (relative to the config file), or null. Put it
     * where whoever could cut the log cannot reach: it is what still shows the log's true length.
     */
    readonly checkpointMirror: string | null;
    /**
     * Write each tool call's raw input into its records (redacted like every record), up to 64 KiB
     * of JSON; larger inputs keep their digest alone. Off (the default): only `inputSha256`.
     */
    readonly recordInput: boolean;
    /**
     * `durable` (default): no call is answered, and no sandbox runs, before its records are
     * fdatasync'ed (group commit). `buffered`: written to the file without a sync — faster,
     * but a power loss can lose answered calls' records.
     */
    readonly durability: 'durable' | 'buffered';
    /** The live file is renamed to `audit-<lastSeq>.jsonl` once it passes this size; the chain goes on. */
    readonly rotateBytes: number;
  };
  readonly sandbox: SandboxConfig;
  readonly sessions: SessionsConfig;
  readonly calls: CallsConfig;
  readonly egress: EgressConfig;
  readonly agents: readonly AgentConfig[];
  readonly users: readonly UserConfig[];
  readonly approvals: ApprovalsConfig;
}

const AGENT_ID = '^[a-z0-9][a-z0-9._-]{0,62}$';
/** User ids come from identity providers: e-mail-like ids allowed, no control or quote characters. */
const USER_ID = '^[A-Za-z0-9][A-Za-z0-9._@+-]{0,254}$';

export const USER_ID_PATTERN = new RegExp(USER_ID);
const POLICY_NAME = '^[a-z0-9][a-z0-9._-]{0,62}$';

const GROUP = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$';
/** A group name, wherever groups come from (config, registrations, the CLI). */
export const GROUP_PATTERN = new RegExp(GROUP);

/** The first group name that is not valid, if any. */
export function invalidGroup(groups: readonly string[]): string | undefined {
  return groups.find((g) => !GROUP_PATTERN.test(g));
}
const GROUPS = { type: 'array', maxItems: 256, uniqueItems: true, items: { type: 'string', pattern: GROUP } } as const;
const ATTRIBUTES = { type: 'object', maxProperties: 64, propertyNames: { pattern: '^[a-z][a-z0-9_]{0,63}$' }, additionalProperties: { type: 'string', maxLength: 1024 } } as const;

export const AGENT_ID_PATTERN = new RegExp(AGENT_ID);
const ACTORS = { type: 'array', maxItems: 1024, uniqueItems: true, items: { type: 'string', pattern: AGENT_ID } } as const;

const positiveInt = (max: number) => ({ type: 'integer', minimum: 1, maximum: max });

const APPROVER_NAME = '^[a-z0-9][a-z0-9._-]{0,62}$';
/** An approver's name, as config and signed decisions spell it. */
export const APPROVER_NAME_PATTERN = new RegExp(APPROVER_NAME);
/** A tool an approver may decide: a tool name, `prefix.*` (tools under a dotted prefix), or `*`. */
const TOOL_PATTERN = '^(\\*|[a-z][a-z0-9_-]{0,62}(\\.[a-z0-9_-]{1,63})*(\\.\\*)?)$';

export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['dataDir', 'policyDir', 'server', 'operator', 'auth', 'log', 'metrics', 'audit', 'sandbox', 'egress', 'agents', 'approvals'],
  properties: {
    configFile: { type: ['string', 'null'] },
    dataDir: { type: 'string', minLength: 1, maxLength: 4096 },
    policyDir: { type: 'string', minLength: 1, maxLength: 4096 },
    server: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'port', 'bodyLimitBytes', 'unreadBodyDiscardBytes', 'unreadBodyDiscardMs'],
      properties: {
        host: { type: 'string', minLength: 1, maxLength: 255 },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
        bodyLimitBytes: positiveInt(64 * 1024 * 1024),
        unreadBodyDiscardBytes: { type: 'integer', minimum: 0, maximum: 1024 * 1024 * 1024 },
        unreadBodyDiscardMs: { type: 'integer', minimum: 0, maximum: 600_000 },
        // An origin with an optional path: no query, fragment, userinfo, whitespace, nor a quote
        // or backslash (it is quoted inside the 401's WWW-Authenticate header).
        publicUrl: { type: 'string', maxLength: 2048, pattern: '^https?://[^\\s/?#@"\\\\]+(/[^\\s?#"\\\\]*)?$' },
      },
    },
    operator: {
      type: 'object',
      additionalProperties: false,
      required: ['enabled', 'host', 'port'],
      properties: {
        enabled: { type: 'boolean' },
        host: { type: 'string', minLength: 1, maxLength: 255 },
        port: { type: 'integer', minimum: 0, maximum: 65535 },
      },
    },
    audit: {
      type: 'object',
      additionalProperties: false,
      required: ['repeatWindowMs', 'repeatMaxKeys', 'origin', 'checkpointEvery', 'checkpointIntervalMs', 'checkpointMirror', 'recordInput', 'durability', 'rotateBytes'],
      properties: {
        repeatWindowMs: { type: 'integer', minimum: 0, maximum: 3_600_000 },
        repeatMaxKeys: positiveInt(1_000_000),
        // A C2SP key name: printable, no whitespace, no "+" (the verifier key's separator).
        origin: { type: 'string', pattern: '^[\\x21-\\x2a\\x2c-\\x7e]{1,255}$' },
        checkpointEvery: positiveInt(10_000_000),
        checkpointIntervalMs: { type: 'integer', minimum: 100, maximum: 86_400_000 },
        checkpointMirror: { type: ['string', 'null'], minLength: 1, maxLength: 4096 },
        recordInput: { type: 'boolean' },
        durability: { type: 'string', enum: ['durable', 'buffered'] },
        // At least 4 KiB (a file a record or two long), at most 64 GiB.
        rotateBytes: { type: 'integer', minimum: 4096, maximum: 64 * 1024 * 1024 * 1024 },
      },
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      required: ['audience', 'maxTokenLifetimeSec', 'clockToleranceSec', 'issuer', 'issuedTokenLifetimeSec', 'assertionMaxLifetimeSec', 'tokenEndpointUrls', 'userIssuers', 'localUsers'],
      properties: {
        audience: { type: 'string', minLength: 1, maxLength: 255 },
        maxTokenLifetimeSec: positiveInt(300),
        clockToleranceSec: { type: 'integer', minimum: 0, maximum: 120 },
        issuer: { type: 'string', minLength: 1, maxLength: 255 },
        issuedTokenLifetimeSec: positiveInt(900),
        assertionMaxLifetimeSec: positiveInt(60),
        tokenEndpointUrls: { type: 'array', maxItems: 16, uniqueItems: true, items: { type: 'string', pattern: '^https?://[^\\s]+/v1/token$', maxLength: 2048 } },
        userIssuers: {
          type: 'array',
          maxItems: 32,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['issuer', 'jwksUrl'],
            properties: {
              issuer: { type: 'string', minLength: 1, maxLength: 1024 },
              jwksUrl: { type: 'string', pattern: '^https?://', maxLength: 2048 },
              audience: { type: 'string', minLength: 1, maxLength: 255 },
              actors: ACTORS,
            },
          },
        },
        localUsers: { type: 'object', additionalProperties: false, required: ['enabled', 'actors'], properties: { enabled: { type: 'boolean' }, actors: ACTORS } },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      required: ['level', 'invocations'],
      properties: { level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] }, invocations: { type: 'boolean' } },
    },
    metrics: {
      type: 'object',
      additionalProperties: false,
      required: ['enabled'],
      properties: { enabled: { type: 'boolean' } },
    },
    sandbox: {
      type: 'object',
      additionalProperties: false,
      required: ['profileDir', 'defaultProfile', 'maxSessions', 'maxSessionsPerAgent', 'isolate', 'container'],
      properties: {
        profileDir: { type: 'string', minLength: 1, maxLength: 4096 },
        defaultProfile: { type: 'string', pattern: POLICY_NAME },
        maxSessions: positiveInt(1_000_000),
        maxSessionsPerAgent: positiveInt(1_000_000),
        isolate: {
          type: 'object',
          additionalProperties: false,
          required: ['hosts', 'maxHosts', 'maxHostsPerAgent', 'hostMemoryMb', 'memoryCap', 'warmIsolatesPerHost', 'idleHostMs', 'maxConcurrent', 'maxQueued'],
          properties: {
            hosts: { type: 'integer', minimum: 0, maximum: 256 },
            maxHosts: positiveInt(1024),
            maxHostsPerAgent: positiveInt(256),
            // A Node process with isolated-vm needs ~96 MB before any isolate.
            hostMemoryMb: { type: 'integer', minimum: 160, maximum: 65_536 },
            memoryCap: { enum: ['auto', 'cgroup', 'rss'] },
            warmIsolatesPerHost: { type: 'integer', minimum: 0, maximum: 64 },
            idleHostMs: positiveInt(86_400_000),
            maxConcurrent: positiveInt(1024),
            maxQueued: { type: 'integer', minimum: 0, maximum: 100_000 },
            maxConcurrentPerAgent: positiveInt(1024),
            maxQueuedPerAgent: { type: 'integer', minimum: 0, maximum: 100_000 },
          },
        },
        container: {
          type: 'object',
          additionalProperties: false,
          required: ['dockerHost', 'maxConcurrent', 'maxQueued', 'startTimeoutMs', 'gcIntervalMs', 'maxSessions', 'maxSessionsPerAgent'],
          properties: {
            dockerHost: { type: ['string', 'null'], minLength: 1, maxLength: 300 },
            maxConcurrent: positiveInt(1024),
            maxQueued: { type: 'integer', minimum: 0, maximum: 100_000 },
            startTimeoutMs: { type: 'integer', minimum: 1000, maximum: 600_000 },
            gcIntervalMs: { type: 'integer', minimum: 1000, maximum: 86_400_000 },
            maxSessions: positiveInt(100_000),
            maxSessionsPerAgent: positiveInt(100_000),
          },
        },
      },
    },
    calls: {
      type: 'object',
      additionalProperties: false,
      required: ['perSecondPerAgent', 'burstPerAgent'],
      properties: {
        perSecondPerAgent: positiveInt(1_000_000),
        burstPerAgent: positiveInt(10_000_000),
      },
    },
    sessions: {
      type: 'object',
      additionalProperties: false,
      required: ['maxOpen', 'maxOpenPerAgent', 'idleTtlMs'],
      properties: {
        maxOpen: positiveInt(10_000_000),
        maxOpenPerAgent: positiveInt(10_000_000),
        idleTtlMs: positiveInt(7 * 86_400_000),
      },
    },
    egress: {
      type: 'object',
      additionalProperties: false,
      required: ['policyDir', 'toolPolicies', 'secrets', 'trustDomain', 'maxResponseBytes', 'fetchTimeoutMs'],
      properties: {
        policyDir: { type: 'string', minLength: 1, maxLength: 4096 },
        toolPolicies: { type: 'object', maxProperties: 256, propertyNames: { pattern: '^[a-z][a-z0-9_.-]{0,63}$' }, additionalProperties: { type: 'string', pattern: POLICY_NAME } },
        secrets: {
          type: 'object',
          maxProperties: 256,
          propertyNames: { pattern: '^[A-Z][A-Z0-9_]{0,127}$' },
          additionalProperties: {
            oneOf: [
              { type: 'object', additionalProperties: false, required: ['env'], properties: { env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' } } },
              { type: 'object', additionalProperties: false, required: ['file'], properties: { file: { type: 'string', minLength: 1, maxLength: 4096 } } },
            ],
          },
        },
        trustDomain: { type: 'string', pattern: '^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$' },
        maxResponseBytes: positiveInt(256 * 1024 * 1024),
        fetchTimeoutMs: positiveInt(600_000),
        sandboxLimits: {
          type: 'object',
          additionalProperties: false,
          required: ['maxRequests', 'maxTotalBytes', 'maxConcurrentConnections', 'maxRequestsPerSecond', 'requestBurst'],
          properties: {
            maxRequests: positiveInt(10_000_000),
            maxTotalBytes: positiveInt(Number.MAX_SAFE_INTEGER),
            maxConcurrentConnections: positiveInt(100_000),
            maxRequestsPerSecond: positiveInt(100_000),
            requestBurst: positiveInt(1_000_000),
          },
        },
      },
    },
    agents: {
      type: 'array',
      maxItems: 10_000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id'],
        properties: {
          id: { type: 'string', pattern: AGENT_ID },
          description: { type: 'string', maxLength: 1000 },
          publicKey: { type: 'string', maxLength: 4096 },
          publicKeyFile: { type: 'string', maxLength: 4096 },
          createKey: { type: 'boolean' },
          groups: GROUPS,
          attributes: ATTRIBUTES,
          egressPolicy: { type: ['string', 'null'], pattern: POLICY_NAME },
        },
      },
    },
    approvals: {
      type: 'object',
      additionalProperties: false,
      required: ['ttlMs', 'maxPending', 'maxPendingPerAgent', 'maxWaitMs', 'approvers'],
      properties: {
        ttlMs: { type: 'integer', minimum: 1000, maximum: 7 * 86_400_000 },
        maxPending: positiveInt(1_000_000),
        maxPendingPerAgent: positiveInt(1_000_000),
        // Below the server's request timeout: a long-poll must end before the server cuts it.
        maxWaitMs: { type: 'integer', minimum: 0, maximum: 120_000 },
        approvers: {
          type: 'array',
          maxItems: 1000,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'tools'],
            properties: {
              name: { type: 'string', pattern: APPROVER_NAME },
              publicKey: { type: 'string', maxLength: 4096 },
              publicKeyFile: { type: 'string', minLength: 1, maxLength: 4096 },
              tools: { type: 'array', minItems: 1, maxItems: 256, uniqueItems: true, items: { type: 'string', pattern: TOOL_PATTERN } },
              groups: { ...GROUPS, minItems: 1 },
              passwordScrypt: { type: 'string', maxLength: 512 },
            },
          },
        },
      },
    },
    users: {
      type: 'array',
      maxItems: 100_000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id'],
        properties: { id: { type: 'string', pattern: USER_ID }, issuer: { type: 'string', minLength: 1, maxLength: 1024 }, groups: GROUPS, attributes: ATTRIBUTES },
      },
    },
  },
} as const;
