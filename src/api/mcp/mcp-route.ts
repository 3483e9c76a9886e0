import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { McpHttpHandler } from '@modelcontextprotocol/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CordonError, isCordonError } from '../../core/errors.ts';
import { parseIp } from '../../core/ip-address.ts';
import type { Logger } from '../../core/logger.ts';
import type { Principal } from '../../core/principal.ts';
import type { Runner } from '../../runner/runner.ts';
import { explainCommand } from '../../runner/stages/refusal.ts';
import { clientGone } from '../client-gone.ts';
import { renderError } from '../error-renderer.ts';
import { checkHeadersMatchBody, readMcpHeaders } from './mcp-headers.ts';

/** A refusal before any call ran: no session facts to replay. */
const NO_SESSION_FACTS = Object.freeze({ untrusted_content: false, sensitive_read: false, egress_hosts: [], calls: 0 });

export const MCP_PATH = '/mcp';
/** RFC 9728 §3.1: the well-known prefix inserted before the resource's path. */
export const PROTECTED_RESOURCE_METADATA_PATH = `/.well-known/oauth-protected-resource${MCP_PATH}`;
/** RFC 8414 §3: Cordon's own token endpoint, for clients that look for it from the resource's origin. */
export const AUTHORIZATION_SERVER_METADATA_PATH = '/.well-known/oauth-authorization-server';

export interface McpRouteOptions {
  readonly runner: Runner;
  readonly logger: Logger;
  /**
   * The URL clients reach this listener at (server.publicUrl, e.g. behind a TLS proxy). Without
   * it, the listener's own address. Never the request's Host header: the metadata and the
   * 401's pointer must not name whatever host a client claims.
   */
  readonly publicUrl?: string;
  /** Whether POST /v1/token is served: only then is Cordon named as the authorization server. */
  readonly tokenEndpoint: boolean;
}

/** The listener's own address as a URL base: loopback by default; a wildcard listener is named `localhost`. */
function listenerBase(app: FastifyInstance): string {
  const a = app.server.address();
  if (a === null || typeof a === 'string') return 'http://localhost';
  const ip = parseIp(a.address);
  const unspecified = ip !== null && ip.bytes.every((b) => b === 0);
  const host = unspecified ? 'localhost' : a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return `http://${host}:${a.port}`;
}

/** Credentials the SDK and the server never see: the request was authenticated before this. */
const NOT_PASSED_ON = new Set(['authorization', 'cookie', 'proxy-authorization']);

/** The request's headers for the SDK (it reads the content type, accept and the MCP headers), minus credentials. */
function toWebHeaders(raw: FastifyRequest['headers']): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined || NOT_PASSED_ON.has(name)) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}

/**
 * MCP over Streamable HTTP at /mcp (stateless, 2026-07-28; 2025-era clients through the SDK's
 * stateless legacy leg), and the OAuth discovery documents that point clients at Cordon's
 * token endpoint. Returns the URLs it registered with their methods (for the 405 table).
 */
export function registerMcpRoutes(app: FastifyInstance, options: McpRouteOptions): ReadonlyMap<string, string[]> {
  const { runner, logger } = options;
  const base = () => (options.publicUrl ?? listenerBase(app)).replace(/\/+$/, '');
  const resourceMetadataUrl = () => `${base()}${PROTECTED_RESOURCE_METADATA_PATH}`;

  // One server per request, made for the principal the request authenticated as. The
  // principal rides in authInfo.extra; the bearer token itself is never handed to the SDK.
  // The SDK performs no token verification of its own: runner.authenticate did it, in admit().
  // Loaded on the first /mcp request: the SDK costs every `cordon serve` start ~0.4 s otherwise.
  let loading: Promise<{ handler: McpHttpHandler; isLegacyRequest: (request: Request, parsedBody?: unknown) => Promise<boolean> }> | null = null;
  const sdk = () =>
    (loading ??= Promise.all([import('@modelcontextprotocol/server'), import('./mcp-server.ts')]).then(([{ createMcpHandler, isLegacyRequest }, { createMcpServer }]) => ({
      isLegacyRequest,
      handler: createMcpHandler(
        (ctx) => {
          const principal = ctx.authInfo?.extra?.principal as Principal | undefined;
          if (principal === undefined) throw new CordonError('INTERNAL', 'mcp request without a principal');
          const requestId = ctx.authInfo?.extra?.requestId as string | undefined;
          return createMcpServer({ runner, principal, logger, ...(requestId === undefined ? {} : { requestId }) });
        },
        {
          // responseMode stays 'auto': the handlers send nothing before their result (no progress), so
          // every modern answer is one JSON body; 'json' would say the same and print a warning.
          onerror: (err) => logger.debug({ err }, 'mcp request refused by the protocol layer'),
        },
      ),
    })));
  app.addHook('preClose', async () => {
    if (loading !== null) await (await loading).handler.close();
  });

  /** 401 in Cordon's shape, with the challenge that points an MCP client at the metadata (RFC 9728 §5.1). */
  const challenge = (err: CordonError, request: FastifyRequest, reply: FastifyReply) => {
    const rendered = renderError(err, request.id);
    const params = [`resource_metadata="${resourceMetadataUrl()}"`];
    // RFC 6750 §3.1: a request without a token gets no error code; a refused token gets invalid_token.
    if (err.code === 'AUTH_INVALID_TOKEN') params.push('error="invalid_token"', `error_description="${err.message.replace(/["\\\r\n]/g, ' ').slice(0, 200)}"`);
    return reply.code(rendered.status).headers({ ...rendered.headers, 'www-authenticate': `Bearer ${params.join(', ')}` }).send(rendered.body);
  };

  // Before the body is read: who is calling, and, when the headers say it is a tools/call, whether
  // that tool is one this caller could ever be allowed. A refused caller makes us parse nothing.
  const admit = async (request: FastifyRequest, reply: FastifyReply) => {
    let principal: Principal;
    try {
      principal = await runner.authenticate(request.headers.authorization, request.id, request.ip);
    } catch (err) {
      if (isCordonError(err) && (err.code === 'AUTH_MISSING_TOKEN' || err.code === 'AUTH_INVALID_TOKEN')) return challenge(err, request, reply);
      throw err;
    }
    request.principal = principal;
    const headers = readMcpHeaders(request.headers);
    if (headers.method === 'tools/call' && headers.name !== undefined) {
      const name = headers.name;
      if (!runner.listToolsFor(principal).some((t) => t.name === name)) {
        const who = `agent "${principal.agent}"${principal.user === null ? '' : ' acting for its user'}`;
        // A registered tool gets the line that shows why, as every other refusal does (refusal.ts).
        const known = runner.listTools().some((t) => t.name === name);
        const explain = known ? explainCommand({ principal, tool: name, action: name, resource: null, input: undefined, profile: '', defaultProfile: '', session: NO_SESSION_FACTS }) : null;
        throw new CordonError('POLICY_DENIED', `tool ${JSON.stringify(name.slice(0, 64))} is not one ${who} could ever call: no permit policy's scope covers its actions, or the token's scope leaves them out (see tools/list)${explain === null ? '' : `. To see why: ${explain}`}`, {
          details: { tool: name.slice(0, 64), reason: 'no permit in scope', principal: { agent: principal.agent, user: principal.user }, ...(explain === null ? {} : { explain }) },
        });
      }
    }
    return undefined;
  };

  app.route({
    method: 'POST',
    url: MCP_PATH,
    // Outside the OpenAPI document (docs/openapi.md): one JSON-RPC endpoint whose methods MCP defines.
    config: { openapi: { exclude: 'MCP (JSON-RPC over Streamable HTTP); see docs/mcp.md' } },
    onRequest: admit,
    handler: async (request, reply) => {
      const principal = request.principal;
      if (principal === undefined) throw new CordonError('AUTH_MISSING_TOKEN', 'not authenticated');
      const body = request.body;
      if (body === undefined) throw new CordonError('UNSUPPORTED_MEDIA_TYPE', 'send one JSON-RPC message as JSON with content-type: application/json');
      // Batches left MCP in 2025-06-18; each message must pass the header checks on its own.
      if (Array.isArray(body)) throw new CordonError('REQUEST_MALFORMED', 'JSON-RPC batches are not accepted: send one message per request');
      const { handler, isLegacyRequest } = await sdk();
      const web = new Request(`${base()}${MCP_PATH}`, { method: 'POST', headers: toWebHeaders(request.headers), signal: clientGone(reply) });
      if (await isLegacyRequest(web, body)) checkHeadersMatchBody(readMcpHeaders(request.headers), body);
      // Neither the Request (no authorization header) nor authInfo (token left empty) carries the
      // caller's token: nothing downstream of this line can present it anywhere.
      const response = await handler.fetch(web, {
        parsedBody: body,
        authInfo: { token: '', clientId: principal.agent, scopes: [...(principal.scope ?? [])], expiresAt: principal.expiresAt, extra: { principal, requestId: request.id } },
      });
      void reply.code(response.status);
      response.headers.forEach((value, name) => {
        if (name !== 'content-length' && name !== 'connection' && name !== 'transfer-encoding') void reply.header(name, value);
      });
      if (response.body === null) return reply.send();
      const type = response.headers.get('content-type') ?? '';
      if (type.startsWith('text/event-stream')) return reply.send(Readable.fromWeb(response.body as NodeReadableStream));
      return reply.send(await response.text());
    },
  });

  const urls = new Map<string, string[]>([[MCP_PATH, ['POST']]]);

  const discovery = { config: { openapi: { exclude: 'OAuth discovery metadata (RFC 9728, RFC 8414); see docs/mcp.md' } } };
  app.get(PROTECTED_RESOURCE_METADATA_PATH, discovery, async () => ({
    resource: `${base()}${MCP_PATH}`,
    ...(options.tokenEndpoint ? { authorization_servers: [base()] } : {}),
    bearer_methods_supported: ['header'],
    resource_name: 'Cordon',
  }));
  urls.set(PROTECTED_RESOURCE_METADATA_PATH, ['GET', 'HEAD']);

  if (options.tokenEndpoint) {
    app.get(AUTHORIZATION_SERVER_METADATA_PATH, discovery, async () => ({
      issuer: base(),
      token_endpoint: `${base()}/v1/token`,
      grant_types_supported: ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'],
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['EdDSA'],
      // No authorization endpoint: agents authenticate with their own keys, nobody is redirected.
      response_types_supported: [],
    }));
    urls.set(AUTHORIZATION_SERVER_METADATA_PATH, ['GET', 'HEAD']);
  }
  return urls;
}
