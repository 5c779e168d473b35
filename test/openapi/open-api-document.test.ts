import { Validator } from '@seriousme/openapi-schema-validator';
import express from 'express';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { decisionsBodySchema, runBodySchema } from '../../src/agent-router/request-bodies.js';
import { chatRequestBodySchema } from '../../src/ai-sdk/chat-request.js';
import { createChatBodySchema, updateChatBodySchema } from '../../src/chats/chat-schemas.js';
import { patchStateBodySchema } from '../../src/chats/chat-state-routes.js';
import { ConfigurationError } from '../../src/errors.js';
import { createOpenApiRouter } from '../../src/openapi/create-open-api-router.js';
import { ENDPOINTS } from '../../src/openapi/endpoints.js';
import { openApiDocument, type OpenApiDocument } from '../../src/openapi/open-api-document.js';
import { listen, request } from '../helpers/http.js';
import { documentAjv } from '../helpers/open-api-conformance.js';

const document = openApiDocument({
  agentPrefixes: ['/dnd', '/world/v2'],
  chatRouter: true,
  memoryRouter: { path: '/me/memories' },
  metricsRouter: true,
  healthRouter: { path: '/ops/health' },
});

async function validate(candidate: OpenApiDocument | Record<string, unknown>) {
  const validator = new Validator();
  const result = await validator.validate(structuredClone(candidate) as Record<string, unknown>);
  return { ...result, version: validator.version };
}

describe('openApiDocument()', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await validate(document);
    expect(result.errors).toBeUndefined();
    expect(result).toMatchObject({ valid: true, version: '3.1' });
    // The validator does refuse a broken document: a path parameter that is not required.
    const broken = structuredClone(document) as unknown as { paths: Record<string, Record<string, { parameters: { required: boolean }[] }>> };
    broken.paths['/chats/{id}']!.get!.parameters[0]!.required = false;
    expect((await validate(broken)).valid).toBe(false);
  });

  it('holds only valid JSON Schema 2020-12: every schema compiles under strict ajv', () => {
    const ajv = documentAjv(document);
    for (const name of Object.keys(document.components.schemas)) {
      expect(() => ajv.compile({ $ref: `openapi.json#/components/schemas/${name}` }), name).not.toThrow();
    }
    for (const [path, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        for (const parameter of (operation as { parameters?: { name: string; schema: object }[] }).parameters ?? []) {
          expect(() => ajv.compile(parameter.schema), `${method} ${path} ${parameter.name}`).not.toThrow();
        }
      }
    }
  });

  it('describes every endpoint of the registry once per mounted router, under its prefix', () => {
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, operation]) => `${method} ${path} ${(operation as { operationId: string }).operationId}`),
    );
    const mountedAt = { chat: '', memory: '/me/memories', metrics: '/metrics', health: '/ops/health' };
    const expected = ENDPOINTS.flatMap((endpoint) =>
      endpoint.router === 'agent'
        ? [
            `${endpoint.method} /dnd${endpoint.path} ${endpoint.id}_dnd`,
            `${endpoint.method} /world/v2${endpoint.path} ${endpoint.id}_world_v2`,
          ]
        : [`${endpoint.method} ${mountedAt[endpoint.router]}${endpoint.path} ${endpoint.id}`],
    );
    expect(operations.sort()).toEqual(expected.sort());
    expect(openApiDocument({ agentPrefixes: ['/dnd'] }).paths['/chats']).toBeUndefined();
    expect(Object.keys(openApiDocument({ chatRouter: true }).paths).every((path) => path.startsWith('/chats'))).toBe(true);
    // Each router at its default path, alone.
    expect(Object.keys(openApiDocument({ memoryRouter: true }).paths)).toEqual(['/memories', '/memories/{memory_id}']);
    expect(Object.keys(openApiDocument({ metricsRouter: {} }).paths)).toEqual(['/metrics', '/metrics/prometheus']);
    expect(Object.keys(openApiDocument({ healthRouter: true }).paths)).toEqual(['/health']);
    expect(document.tags.map((tag) => tag.name)).toEqual(['/dnd', '/world/v2', 'chats', 'runs', 'state', 'memories', 'metrics', 'health']);
  });

  it('gives each operation the error envelopes of the codes it can answer, under their statuses', () => {
    const run = document.paths['/dnd/run']!.post as { responses: Record<string, { content?: Record<string, { schema: unknown }>; headers?: object }> };
    expect(Object.keys(run.responses)).toEqual(['200', '202', '400', '401', '404', '409', '410', '413', '422', '500', '502', '503', '504']);
    expect(run.responses['409']!.content!['application/json']!.schema).toEqual({
      anyOf: ['ApprovalPendingError', 'SessionBusyError', 'RunCancelledError', 'LeaseLostError'].map((name) => ({
        $ref: `#/components/schemas/${name}`,
      })),
    });
    expect(run.responses['409']!.headers).toHaveProperty('Retry-After');
    expect(document.components.schemas.SessionBusyError).toMatchObject({
      properties: { error: { properties: { code: { const: 'session_busy' }, details: { required: ['run_id'] } } } },
    });
  });

  it('describes the streams: text/event-stream, one schema per event', () => {
    const stream = document.paths['/dnd/stream']!.post as { responses: Record<string, { content: Record<string, unknown>; headers: object }> };
    expect(stream.responses['200']!.content).toEqual({ 'text/event-stream': { schema: { $ref: '#/components/schemas/RunEvent' } } });
    expect(stream.responses['200']!.headers).toHaveProperty('X-Accel-Buffering');
    const events = (document.components.schemas.RunEvent as { oneOf: { properties: { event: { const: string } } }[] }).oneOf;
    expect(events.map((event) => event.properties.event.const)).toEqual([
      'run.started',
      'run.resumed',
      'text.delta',
      'tool.called',
      'tool.output',
      'agent.updated',
      'state.updated',
      'run.completed',
      'run.awaiting_approval',
      'run.failed',
      'run.cancelled',
    ]);
    const chat = document.paths['/dnd/chat']!.post as { responses: Record<string, { content: Record<string, unknown>; headers: object }> };
    expect(chat.responses['200']!.content).toEqual({ 'text/event-stream': { schema: { $ref: '#/components/schemas/UiMessageStreamEvent' } } });
    expect(chat.responses['200']!.headers).toHaveProperty('x-vercel-ai-ui-message-stream');
    // A decision answers JSON, or the resumed events with "stream": true.
    const decide = document.paths['/dnd/runs/{run_id}/approvals']!.post as { responses: Record<string, { content: object }> };
    expect(Object.keys(decide.responses['200']!.content)).toEqual(['application/json', 'text/event-stream']);
  });

  it("describes the answers that are not JSON bodies alone: the Prometheus text, health's 503, the state's ETag", () => {
    type Responses = { responses: Record<string, { content?: Record<string, { schema: unknown }>; headers?: Record<string, unknown> }> };
    const prometheus = document.paths['/metrics/prometheus']!.get as Responses;
    expect(prometheus.responses['200']!.content).toEqual({ 'text/plain; version=0.0.4; charset=utf-8': { schema: { type: 'string' } } });
    expect(Object.keys(prometheus.responses)).toEqual(['200', '400', '403', '500', '503']);
    const health = document.paths['/ops/health']!.get as Responses;
    expect(Object.keys(health.responses)).toEqual(['200', '503']);
    expect(health.responses['503']!.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/HealthBody' });
    expect(health.responses['503']!.headers).toHaveProperty('Cache-Control');
    const patch = document.paths['/chats/{id}/state']!.patch as Responses & { parameters: { name: string; in: string }[]; requestBody: { content: object } };
    expect(patch.responses['200']!.headers).toHaveProperty('ETag');
    expect(patch.parameters.map((parameter) => `${parameter.in} ${parameter.name}`)).toEqual(['path id', 'header If-Match']);
    expect(Object.keys(patch.requestBody.content)).toEqual(['application/json', 'application/merge-patch+json']);
    expect(Object.keys(patch.responses)).toEqual(['200', '400', '401', '404', '409', '412', '413', '500', '503']);
  });

  it("represents the SDK's input items as one AgentInputItem component", () => {
    const item = document.components.schemas.AgentInputItem as { anyOf: unknown[] };
    expect(item.anyOf.length).toBeGreaterThan(10);
    expect(document.components.schemas.RunRequestBody).toMatchObject({
      properties: { input: { anyOf: [{ type: 'string' }, { type: 'array', items: { $ref: '#/components/schemas/AgentInputItem' } }] } },
    });
    expect(document.components.schemas.ItemsPageBody).toMatchObject({
      properties: { items: { items: { $ref: '#/components/schemas/AgentInputItem' } } },
    });
  });

  it('takes parameters from the schemas that parse them: types, bounds and defaults as a client sends them', () => {
    const list = document.paths['/chats']!.get as { parameters: unknown[] };
    expect(list.parameters).toEqual([
      { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
      { name: 'cursor', in: 'query', required: false, schema: { type: 'string', minLength: 1, maxLength: 1024 } },
    ]);
    const follow = document.paths['/chats/{id}/runs/{run_id}/stream']!.get as { parameters: { name: string; in: string }[] };
    expect(follow.parameters.map((parameter) => `${parameter.in} ${parameter.name}`)).toEqual([
      'path id',
      'path run_id',
      'query after',
      'header Last-Event-ID',
    ]);
  });

  it('accepts and refuses request bodies as the zod schemas that validate them do', () => {
    const ajv = documentAjv(document);
    const cases: [string, z.ZodType, unknown[]][] = [
      [
        'RunRequestBody',
        runBodySchema,
        [
          { input: 'Hi.' },
          { input: [{ role: 'user', content: 'Hi.' }], session_id: 'c1', background: true },
          { input: '' },
          { input: [] },
          { input: 'Hi.', extra: 1 },
          { input: 'Hi.', session_id: '' },
          { input: 'Hi.', session_id: 'x'.repeat(256) },
          { session_id: 'c1' },
        ],
      ],
      [
        'DecisionsRequestBody',
        decisionsBodySchema,
        [{ decisions: [{ call_id: 'c', approved: true }] }, { decisions: [] }, { decisions: [{ call_id: 'c' }] }, { decisions: [{ call_id: 'c', approved: false, message: 'no' }], stream: true }],
      ],
      ['CreateChatBody', createChatBodySchema, [{}, { title: null, metadata: { a: 1 } }, { title: 'x'.repeat(501) }, { metadata: [] }, { colour: 1 }]],
      ['UpdateChatBody', updateChatBodySchema, [{ conversation: null }, { conversation: [] }, { title: 'T' }]],
      [
        'PatchChatStateBody',
        patchStateBodySchema,
        [{}, { state: { mood: 'brave', note: null }, user_state: { theme: 'dark' } }, { state: [] }, { state: 'x' }, { user_state: null }, { colour: 1 }],
      ],
      [
        'AiSdkChatRequestBody',
        chatRequestBodySchema,
        [
          { id: 'c', messages: [{ role: 'user', parts: [{ type: 'text', text: 'Hi' }] }], trigger: 'submit-message', extra: true },
          { id: 'c', messages: [], trigger: 'submit-message' },
          { id: 'c', messages: [{ role: 'tool', parts: [] }], trigger: 'submit-message' },
        ],
      ],
    ];
    for (const [name, schema, bodies] of cases) {
      const check = ajv.compile({ $ref: `openapi.json#/components/schemas/${name}` });
      for (const body of bodies) expect(check(body), `${name} ${JSON.stringify(body)}`).toBe(schema.safeParse(body).success);
    }
  });

  it('takes a title, a version, a description and servers', () => {
    const custom = openApiDocument({ chatRouter: true, title: 'Tavern', version: '2.1.0', description: 'D', servers: [{ url: '/api' }] });
    expect(custom.info).toEqual({ title: 'Tavern', version: '2.1.0', description: 'D' });
    expect(custom.servers).toEqual([{ url: '/api' }]);
    expect(document.info.title).toBe('Agent API');
    expect(document.servers).toBeUndefined();
  });

  it('refuses options it cannot describe, at the call', () => {
    expect(() => openApiDocument()).toThrow(ConfigurationError);
    expect(() => openApiDocument({})).toThrow(/no router to describe/);
    expect(() => openApiDocument({ agentPrefixes: ['dnd'] })).toThrow(/must be a router prefix/);
    expect(() => openApiDocument({ agentPrefixes: ['/dnd', '/dnd'] })).toThrow(/described twice/);
    expect(() => openApiDocument({ agentPrefixes: ['/a-b', '/a_b'] })).toThrow(/described twice/);
    expect(() => openApiDocument({ chatRouter: true, prefixes: ['/dnd'] } as never)).toThrow(/unknown option "prefixes"/);
    expect(() => openApiDocument({ memoryRouter: { path: 'memories' } })).toThrow(ConfigurationError);
    expect(() => openApiDocument({ memoryRouter: false, healthRouter: false })).toThrow(/no router to describe/);
    expect(() => openApiDocument({ chatRouter: true, memoryRouter: { path: '/chats' } })).toThrow(/described twice/);
  });

  it('returns a document of its own each time: changing one changes no other', () => {
    const first = openApiDocument({ chatRouter: true });
    (first.components.schemas.ChatBody as { title?: string }).title = 'changed';
    expect(openApiDocument({ chatRouter: true }).components.schemas.ChatBody).not.toHaveProperty('title');
  });
});

describe('createOpenApiRouter()', () => {
  it('serves the document at GET /openapi.json, or at its own path; other methods answer 405', async () => {
    const app = express();
    app.use(createOpenApiRouter({ agentPrefixes: ['/dnd'], chatRouter: true }));
    app.use(createOpenApiRouter({ chatRouter: true, path: '/docs/chats.json' }));
    const server = await listen(app);
    try {
      const served = await request(server, 'GET', '/openapi.json');
      expect(served.status).toBe(200);
      expect(served.body).toEqual(openApiDocument({ agentPrefixes: ['/dnd'], chatRouter: true }));
      expect((await request(server, 'GET', '/docs/chats.json')).body.paths['/dnd/run']).toBeUndefined();
      const post = await request(server, 'POST', '/openapi.json');
      expect(post.status).toBe(405);
      expect(post.body.error.code).toBe('method_not_allowed');
      expect(post.headers.get('allow')).toBe('GET');
    } finally {
      await server.close();
    }
  });

  it('refuses a bad path or bad document options at start-up', () => {
    expect(() => createOpenApiRouter({ chatRouter: true, path: 'openapi.json' })).toThrow(ConfigurationError);
    expect(() => createOpenApiRouter({ chatRouter: true, path: '/docs/' })).toThrow(/path must be a path/);
    expect(() => createOpenApiRouter({})).toThrow(/no router to describe/);
    expect(() => createOpenApiRouter(null as never)).toThrow(/options must be an object/);
  });
});
