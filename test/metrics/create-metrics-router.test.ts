import { Agent, tool } from '@openai/agents';
import { ScriptedModel, assistantMessage, functionCall, modelError } from '@openai/agents/testing';
import express from 'express';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgentRouter } from '../../src/agent-router/create-agent-router.js';
import { AgentRouterError, ConfigurationError } from '../../src/errors.js';
import { createMetricsRouter } from '../../src/metrics/create-metrics-router.js';
import { prometheusText } from '../../src/metrics/prometheus-text.js';
import { createTestDatabase, describeEachEngine, type TestDatabase } from '../helpers/database.js';
import { listen, request, type TestServer } from '../helpers/http.js';
import { SINCE, UNTIL, seedRuns } from './seeded-runs.js';

const quiet = { warn: () => {}, error: () => {} };
const window = `since=${SINCE.toISOString()}&until=${UNTIL.toISOString()}`;
const admin = { headers: { authorization: 'Bearer metrics-token' } };
const authorize = (req: express.Request) => req.header('authorization') === 'Bearer metrics-token';

function family(families: ParsedFamily[], name: string): ParsedFamily {
  const found = families.find((entry) => entry.name === name);
  if (!found) throw new Error(`no family ${name} in ${families.map((entry) => entry.name).join(', ')}`);
  return found;
}

/** The value of the sample with exactly these labels, as a number. */
function sample(families: ParsedFamily[], name: string, labels: Record<string, string>): number {
  const found = family(families, name).metrics.find((metric) => JSON.stringify(metric.labels ?? {}) === JSON.stringify(labels));
  if (!found) throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
  return Number(found.value);
}

describe('createMetricsRouter', () => {
  it('is not public: without authorize, construction throws and says what to pass', () => {
    expect(() => createMetricsRouter(() => ({}) as never, undefined as never)).toThrow(ConfigurationError);
    expect(() => createMetricsRouter(() => ({}) as never, {} as never)).toThrow(/pass authorize: \(req\) => boolean/);
    expect(() => createMetricsRouter(() => ({}) as never, { authorize, windowMs: 5 })).toThrow(/option "windowMs"/);
    expect(() => createMetricsRouter('db' as never, { authorize })).toThrow(/getDb must be a function/);
  });
});

describeEachEngine('createMetricsRouter', (engine) => {
  let database: TestDatabase;
  let server: TestServer;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
    await seedRuns(database.db);
    await seedRuns(database.db, [{ agent: 'Bard "the \\Loud"\nII', at: new Date(SINCE.getTime() + 60_000), status: 'completed', ms: 10 }]);
    const app = express();
    app.use(
      createMetricsRouter(() => database.db, {
        authorize: (req) => {
          if (req.header('authorization') === 'Bearer broken') throw new AgentRouterError('Token service down.', { status: 503, code: 'token_service_down' });
          return authorize(req);
        },
        logger: quiet,
      }),
    );
    server = await listen(app);
  });
  afterAll(async () => {
    await server.close();
    await database.destroy();
  });

  it('answers 403 to a request authorize refuses, before reading anything', async () => {
    for (const path of ['/metrics', '/metrics/prometheus', '/metrics?since=garbage']) {
      const answer = await request(server, 'GET', path, { headers: { authorization: 'Bearer wrong' } });
      expect(answer.status, path).toBe(403);
      expect(answer.body).toEqual({ success: false, error: { code: 'forbidden', message: 'You may not read the metrics.' } });
    }
    const broken = await request(server, 'GET', '/metrics', { headers: { authorization: 'Bearer broken' } });
    expect(broken).toMatchObject({ status: 503, body: { error: { code: 'token_service_down' } } });
  });

  it('serves the figures of the window as JSON', async () => {
    const answer = await request(server, 'GET', `/metrics?${window}&agent_name=Bard`, admin);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.body).toEqual({
      since: SINCE.toISOString(),
      until: UNTIL.toISOString(),
      agents: [
        {
          agent_name: 'Bard',
          runs: 8,
          completed: 3,
          failed: 2,
          cancelled: 1,
          in_progress: 2,
          success_rate: 0.6,
          errors: { model_error: 1, run_cancelled: 1, run_expired: 1 },
          latency_ms: { p50: 200, p95: expect.closeTo(860, 9), count: 5, sum: 1650 },
          tokens: { requests: 9, input: 150, output: 67, total: 217 },
          tools: { calls: 6, failures: 2, by_tool: { roll_dice: { calls: 4, failures: 1 }, lookup: { calls: 2, failures: 1 } } },
        },
      ],
    });
    const all = await request(server, 'GET', `/metrics?${window}`, admin);
    expect(all.body.agents.map((agent: { agent_name: string }) => agent.agent_name)).toEqual(['Bard', 'Bard "the \\Loud"\nII', 'Keeper']);
  });

  it('serves them in the Prometheus text format, which a real parser reads back', async () => {
    const answer = await request(server, 'GET', `/metrics/prometheus?${window}`, admin);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const families = parsePrometheusTextFormat(answer.text);
    for (const entry of families) expect(entry.help, entry.name).not.toBe('');
    expect(sample(families, 'agent_router_window_seconds', {})).toBe(86_400);
    const bard = { agent: 'Bard' };
    expect(family(families, 'agent_router_runs').type).toBe('GAUGE');
    expect(sample(families, 'agent_router_runs', { ...bard, status: 'completed' })).toBe(3);
    expect(sample(families, 'agent_router_runs', { ...bard, status: 'failed' })).toBe(2);
    expect(sample(families, 'agent_router_runs', { ...bard, status: 'cancelled' })).toBe(1);
    expect(sample(families, 'agent_router_runs', { ...bard, status: 'in_progress' })).toBe(2);
    expect(sample(families, 'agent_router_run_success_ratio', bard)).toBe(0.6);
    expect(sample(families, 'agent_router_run_errors', { ...bard, code: 'run_expired' })).toBe(1);
    expect(sample(families, 'agent_router_model_requests', bard)).toBe(9);
    expect(sample(families, 'agent_router_tokens', { ...bard, kind: 'total' })).toBe(217);
    expect(sample(families, 'agent_router_tool_calls', { ...bard, tool: 'roll_dice' })).toBe(4);
    expect(sample(families, 'agent_router_tool_failures', { ...bard, tool: 'lookup' })).toBe(1);
    expect(family(families, 'agent_router_run_duration_seconds').type).toBe('SUMMARY');
    // This parser folds a summary's samples into one entry without their labels (it expects one
    // unlabelled summary per family), so the summary's own lines are read back as untyped samples.
    const summary = parsePrometheusTextFormat(
      answer.text
        .split('\n')
        .filter((line) => line.startsWith('agent_router_run_duration_seconds'))
        .join('\n'),
    );
    expect(sample(summary, 'agent_router_run_duration_seconds', { ...bard, quantile: '0.5' })).toBe(0.2);
    expect(sample(summary, 'agent_router_run_duration_seconds', { ...bard, quantile: '0.95' })).toBeCloseTo(0.86, 9);
    expect(sample(summary, 'agent_router_run_duration_seconds_sum', bard)).toBe(1.65);
    expect(sample(summary, 'agent_router_run_duration_seconds_count', bard)).toBe(5);
    // A label value with a quote, a backslash and a line feed comes back as it was.
    expect(sample(families, 'agent_router_runs', { agent: 'Bard "the \\Loud"\nII', status: 'completed' })).toBe(1);
  });

  it('refuses a query it cannot use, with the error envelope', async () => {
    for (const query of ['since=yesterday', `since=${UNTIL.toISOString()}&until=${SINCE.toISOString()}`, 'window=60', 'since=2026-06-01T00:00:00']) {
      const answer = await request(server, 'GET', `/metrics?${query}`, admin);
      expect(answer.status, query).toBe(400);
      expect(answer.body).toMatchObject({ success: false, error: { code: 'invalid_request' } });
    }
    expect((await request(server, 'POST', '/metrics', admin)).status).toBe(405);
  });
});

it('the Prometheus text a parser refuses is not what prometheusText writes (the parser is strict)', () => {
  expect(() => parsePrometheusTextFormat('# TYPE x gauge\nx{agent="a"b"} 1\n')).toThrow();
  const text = prometheusText({ since: SINCE, until: UNTIL, agents: [] });
  expect(parsePrometheusTextFormat(text).map((entry) => entry.name)).toContain('agent_router_runs');
});

describeEachEngine('metrics of runs served by the agent router', (engine) => {
  let database: TestDatabase;
  let server: TestServer;
  beforeAll(async () => {
    database = await createTestDatabase(engine);
  });
  afterAll(async () => {
    await server?.close();
    await database.destroy();
  });

  it('count the runs, their errors and their tool calls and failures, as the engine recorded them', async () => {
    const flaky = tool({
      name: 'flaky',
      description: 'Always fails.',
      parameters: z.object({}),
      execute: async () => {
        throw new Error('broken tool');
      },
    });
    const echo = tool({ name: 'echo', description: 'Echoes.', parameters: z.object({ v: z.string() }), execute: async ({ v }) => v });
    const model = new ScriptedModel([
      [functionCall('flaky', {}, { callId: 'c1' }), functionCall('echo', { v: 'hi' }, { callId: 'c2' })],
      [assistantMessage('Done, one tool failed.')],
      modelError(new Error('provider down')),
    ]);
    const agent = new Agent({ name: 'Tinkerer', model, tools: [flaky, echo] });
    const app = express();
    app.use(createAgentRouter(agent, '/tinker', () => database.db, { getUserId: () => 'alice', logger: quiet }));
    app.use(createMetricsRouter(() => database.db, { authorize, logger: quiet }));
    server = await listen(app);

    expect((await request(server, 'POST', '/tinker/run', { body: { input: 'go' } })).status).toBe(200);
    // A plain Error from the model is not a provider's answer: 500 internal_error.
    expect((await request(server, 'POST', '/tinker/run', { body: { input: 'again' } })).status).toBe(500);
    const answer = await request(server, 'GET', '/metrics?agent_name=Tinkerer', admin);
    expect(answer.status).toBe(200);
    expect(answer.body.agents).toEqual([
      expect.objectContaining({
        agent_name: 'Tinkerer',
        runs: 2,
        completed: 1,
        failed: 1,
        success_rate: 0.5,
        errors: { internal_error: 1 },
        latency_ms: expect.objectContaining({ count: 2 }),
        tools: { calls: 2, failures: 1, by_tool: { flaky: { calls: 1, failures: 1 }, echo: { calls: 1, failures: 0 } } },
      }),
    ]);
  });
});
