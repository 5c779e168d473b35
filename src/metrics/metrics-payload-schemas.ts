import { z } from 'zod';
import { timestamp } from '../chats/chat-payload-schemas.js';

/**
 * `GET /metrics`'s answer as zod schemas, for the OpenAPI document. `MetricsBody` and
 * `AgentMetricsBody` (create-metrics-router.ts) stay the public types; a type test keeps them equal.
 */

const count = z.number().int().nonnegative();
const toolCallCounts = z.strictObject({ calls: count, failures: count });

export const agentMetricsBodySchema = z
  .strictObject({
    agent_name: z.string().describe('The agent the runs started on (a handoff does not count them again).'),
    runs: count.describe('Runs started in the window, whatever became of them.'),
    completed: count,
    failed: count,
    cancelled: count,
    in_progress: count.describe('Still running, or waiting for a tool approval.'),
    success_rate: z
      .number()
      .min(0)
      .max(1)
      .nullable()
      .describe('`completed / (completed + failed)` (cancelled runs count as neither); `null` when no run completed or failed.'),
    errors: z.record(z.string(), count).describe('Failed and cancelled runs by error code.'),
    latency_ms: z
      .strictObject({ p50: z.number().nullable(), p95: z.number().nullable(), count, sum: z.number().nonnegative() })
      .describe('How long the finished runs took, without time waiting for approvals: median, 95th percentile (`null` without finished runs), how many, and their sum.'),
    tokens: z.strictObject({ requests: count, input: count, output: count, total: count }),
    tools: z
      .strictObject({ ...toolCallCounts.shape, by_tool: z.record(z.string(), toolCallCounts) })
      .describe('Tool calls, and those that threw or timed out, all together and by tool name.'),
  })
  .describe('What the runs one agent started in the window add up to.');

export const metricsBodySchema = z.strictObject({
  since: timestamp.describe('The window: runs started at or after `since` and before `until` count.'),
  until: timestamp,
  agents: z.array(agentMetricsBodySchema).describe('One entry per agent, by name; with `?agent_name=`, exactly that one.'),
});
