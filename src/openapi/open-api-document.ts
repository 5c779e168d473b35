import { z } from 'zod';
import { PREFIX } from '../agent-router/agent-router-options.js';
import { ConfigurationError } from '../errors.js';
import { parseOptions, pathOption } from '../http/factory-options.js';
import { components, type JsonSchema } from './components.js';
import { ENDPOINTS, type Endpoint, type EndpointResponse, type RouterName } from './endpoints.js';
import { ERROR_CODES, errorComponentName, type ErrorCode } from './error-codes.js';

export interface OpenApiDocumentOptions {
  /**
   * The prefix of each mounted agent router, as given to `createAgentRouter(agent, prefix, ...)`:
   * `['/dnd', '/world']`. Defaults to none.
   */
  agentPrefixes?: string[];
  /** Whether the chat router (`createChatRouter`) is mounted. Defaults to `false`. */
  chatRouter?: boolean;
  /**
   * Whether the memory router (`createMemoryRouter`) is mounted: `true`, or `{ path }` with the
   * `path` it was given. Defaults to `false`.
   */
  memoryRouter?: boolean | RouterAt;
  /** Whether the metrics router (`createMetricsRouter`) is mounted: `true`, or `{ path }`. Defaults to `false`. */
  metricsRouter?: boolean | RouterAt;
  /** Whether the health router (`createHealthRouter`) is mounted: `true`, or `{ path }`. Defaults to `false`. */
  healthRouter?: boolean | RouterAt;
  /** `info.title`. Defaults to `'Agent API'`. */
  title?: string;
  /** `info.version`: the version of your API. Defaults to `'1.0.0'`. */
  version?: string;
  /** `info.description`. Defaults to a paragraph on users, errors and streams. */
  description?: string;
  /**
   * `servers`: where the routers are mounted, when not at the root of the host
   * (`app.use('/api', router)` is `[{ url: '/api' }]`). Defaults to none (the document's own origin).
   */
  servers?: { url: string; description?: string }[];
}

/** A router mounted at a path of its own: the `path` option it was created with. */
export interface RouterAt {
  /** As given to the router. Defaults to the router's default (`'/memories'`, `'/metrics'`, `'/health'`). */
  path?: string;
}

/** An OpenAPI 3.1 document, as plain JSON. */
export interface OpenApiDocument {
  openapi: '3.1.1';
  info: { title: string; version: string; description: string };
  jsonSchemaDialect: string;
  servers?: { url: string; description?: string }[];
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, JsonSchema> };
}

const routerAt = z.union([z.boolean(), z.strictObject({ path: pathOption.optional() })]);

const optionsSchema = z.strictObject({
  agentPrefixes: z
    .array(z.string().regex(PREFIX, "must be a router prefix such as '/assistant' (as createAgentRouter takes it)"))
    .optional(),
  chatRouter: z.boolean().optional(),
  memoryRouter: routerAt.optional(),
  metricsRouter: routerAt.optional(),
  healthRouter: routerAt.optional(),
  title: z.string().min(1).optional(),
  version: z.string().min(1).optional(),
  description: z.string().optional(),
  servers: z.array(z.strictObject({ url: z.string().min(1), description: z.string().optional() })).optional(),
});

const DEFAULT_DESCRIPTION =
  'Agents served by express-agent-router, their chats and runs. Who the caller is comes from the host ' +
  "(the routers' `getUserId`; the metrics router's `authorize`), so authentication is whatever the host's middleware does. Every error answers " +
  'the JSON envelope `{ success: false, error: { code, message, details? } }`, with the codes each operation ' +
  'lists; a query parameter an operation does not list answers 400 `invalid_request` (`/health` ignores its query); ' +
  'a method a path does not serve answers 405 `method_not_allowed` (with `Allow`). Streams are ' +
  'server-sent events: the schema of a `text/event-stream` answer describes one event, as an object of its ' +
  'fields (`id`, `event`, and `data` parsed as JSON); comment lines (`: heartbeat`) keep idle streams open.';

/** Which router an endpoint belongs to, where it is mounted, and how its operations are named. */
interface Mount {
  router: RouterName;
  prefix: string;
  /** The tags of its operations, in the order the document lists them. */
  tags: { name: string; description: string }[];
  /** The tag of every operation of the router (an agent's prefix); otherwise each endpoint's own. */
  tag?: string;
  /** Added to each operationId, so that two agents' operations differ. */
  idSuffix: string;
}

/**
 * The OpenAPI 3.1 document of the HTTP API: every endpoint of the routers you mount, with its
 * parameters, request body, answers and error envelopes, generated from the zod schemas that
 * validate the requests (so it cannot drift from them). Options are checked when it is called.
 *
 * ```ts
 * import { openApiDocument } from 'express-agent-router';
 *
 * const document = openApiDocument({ agentPrefixes: ['/dnd', '/world'], chatRouter: true });
 * app.get('/openapi.json', (req, res) => res.json(document));
 * ```
 */
export function openApiDocument(options?: OpenApiDocumentOptions): OpenApiDocument {
  const config = parseOptions('openApiDocument', optionsSchema, options);
  const mounts = mountsOf(config);
  const { schemas, ref, streamRef } = components();
  const paths: OpenApiDocument['paths'] = {};
  const operationIds = new Set<string>();
  for (const mount of mounts) {
    for (const endpoint of ENDPOINTS.filter((candidate) => candidate.router === mount.router)) {
      const path = mount.prefix + endpoint.path;
      const operationId = endpoint.id + mount.idSuffix;
      const item = (paths[path] ??= {});
      if (item[endpoint.method] || operationIds.has(operationId)) {
        throw new ConfigurationError(
          `openApiDocument: ${endpoint.method.toUpperCase()} ${path} (${operationId}) is described twice; give each agent its own prefix.`,
        );
      }
      operationIds.add(operationId);
      item[endpoint.method] = operation(endpoint, mount, operationId, ref, streamRef);
    }
  }
  return {
    openapi: '3.1.1',
    info: { title: config.title ?? 'Agent API', version: config.version ?? '1.0.0', description: config.description ?? DEFAULT_DESCRIPTION },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    ...(config.servers ? { servers: config.servers } : {}),
    tags: mounts.flatMap((mount) => mount.tags),
    paths,
    components: { schemas: structuredClone(schemas) },
  };
}

type RouterAtOption = boolean | RouterAt | undefined;

function mountsOf(config: OpenApiDocumentOptions): Mount[] {
  const agents = (config.agentPrefixes ?? []).map(
    (prefix): Mount => ({
      router: 'agent',
      prefix,
      tags: [{ name: prefix, description: `The agent mounted on ${prefix}: runs, streams, tool approvals, its info, and the AI SDK's useChat endpoints.` }],
      tag: prefix,
      idSuffix: `_${prefix.slice(1).replace(/[^A-Za-z0-9]+/g, '_')}`,
    }),
  );
  const at = (option: RouterAtOption, router: RouterName, defaultPath: string, tags: Mount['tags']): Mount[] =>
    option ? [{ router, prefix: (typeof option === 'object' ? option.path : undefined) ?? defaultPath, tags, idSuffix: '' }] : [];
  const mounts = [
    ...agents,
    ...at(config.chatRouter, 'chat', '', [
      { name: 'chats', description: "A user's conversations: create, list, read, rename, clear, delete, and their stored items." },
      { name: 'runs', description: "A chat's runs: read, follow and cancel them, from any instance." },
      { name: 'state', description: "A chat's session state and its owner's, read and changed between runs." },
    ]),
    ...at(config.memoryRouter, 'memory', '/memories', [
      { name: 'memories', description: "The caller's long-term memories (kept by rememberTool): list them, delete one or all." },
    ]),
    ...at(config.metricsRouter, 'metrics', '/metrics', [
      { name: 'metrics', description: 'Metrics per agent from the run records, as JSON and in the Prometheus text format; `authorize` decides who may read them.' },
    ]),
    ...at(config.healthRouter, 'health', '/health', [{ name: 'health', description: 'For load balancers and orchestrators: asks for no user, says no more than ok or unavailable.' }]),
  ];
  if (mounts.length === 0) {
    throw new ConfigurationError(
      "openApiDocument: no router to describe. Pass agentPrefixes: ['/assistant'] (the prefix of each createAgentRouter) " +
        'and/or chatRouter, memoryRouter, metricsRouter or healthRouter: true.',
    );
  }
  return mounts;
}

function operation(
  endpoint: Endpoint,
  mount: Mount,
  operationId: string,
  ref: (schema: z.ZodType) => { $ref: string },
  streamRef: (kind: NonNullable<EndpointResponse['stream']>) => { $ref: string },
) {
  const parameters = [
    ...parametersOf(endpoint.params, 'path'),
    ...parametersOf(endpoint.query, 'query'),
    ...parametersOf(endpoint.headers, 'header'),
  ];
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(endpoint.responses)) {
    const content: Record<string, { schema: { $ref: string } | JsonSchema }> = {};
    if (response.json) content['application/json'] = { schema: ref(response.json) };
    if (response.stream) content['text/event-stream'] = { schema: streamRef(response.stream) };
    if (response.text) content[response.text] = { schema: { type: 'string' } };
    const headers = {
      ...(response.stream ? streamHeaders(response.stream) : {}),
      ...Object.fromEntries(Object.entries(response.headers ?? {}).map(([name, { description, schema }]) => [name, header(schema, description)])),
    };
    responses[status] = {
      description: response.description,
      ...(Object.keys(headers).length ? { headers } : {}),
      ...(Object.keys(content).length ? { content } : {}),
    };
  }
  for (const [status, codes] of byStatus(endpoint.errors)) {
    const refs = codes.map((code) => ({ $ref: `#/components/schemas/${errorComponentName(code)}` }));
    responses[status] = {
      description: codes.map((code) => `\`${code}\`: ${ERROR_CODES[code].description}`).join('\n\n'),
      ...(codes.includes('session_busy') ? { headers: { 'Retry-After': header(z.literal('1'), 'With `session_busy`: when to ask again, in seconds.') } } : {}),
      content: { 'application/json': { schema: refs.length === 1 ? refs[0] : { anyOf: refs } } },
    };
  }
  return {
    operationId,
    summary: endpoint.summary,
    ...(endpoint.description ? { description: endpoint.description } : {}),
    tags: [mount.tag ?? endpoint.tag ?? mount.router],
    ...(parameters.length ? { parameters } : {}),
    ...(endpoint.body
      ? {
          requestBody: {
            required: endpoint.body.required,
            content: Object.fromEntries((endpoint.body.mediaTypes ?? ['application/json']).map((type) => [type, { schema: ref(endpoint.body!.schema) }])),
          },
        }
      : {}),
    responses,
  };
}

/** The parameters of a path, query or header schema: one per property, as a client sends it. */
function parametersOf(schema: z.ZodObject | undefined, location: 'path' | 'query' | 'header') {
  if (!schema) return [];
  const json = toJson(schema);
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name,
      in: location,
      required: location === 'path' || required.has(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

function streamHeaders(kind: NonNullable<EndpointResponse['stream']>) {
  return {
    'Cache-Control': header(z.literal('no-cache, no-transform'), 'Streams are never cached or transformed by proxies.'),
    'X-Accel-Buffering': header(z.literal('no'), "Turns off nginx's buffering."),
    ...(kind === 'ui-message-chunks'
      ? { 'x-vercel-ai-ui-message-stream': header(z.literal('v1'), "The AI SDK's UI message stream protocol version.") }
      : {}),
  };
}

function header(schema: z.ZodType, description: string) {
  return { description, schema: toJson(schema) };
}

function toJson(schema: z.ZodType): JsonSchema {
  const { $schema: _, ...json } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as JsonSchema;
  return json;
}

/** Error codes grouped by status, in status order. */
function byStatus(codes: readonly ErrorCode[]): [string, ErrorCode[]][] {
  const groups = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const { status } = ERROR_CODES[code];
    groups.set(status, [...(groups.get(status) ?? []), code]);
  }
  return [...groups].sort(([a], [b]) => a - b).map(([status, group]) => [String(status), group]);
}
