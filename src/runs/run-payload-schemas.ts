import { protocol } from '@openai/agents';
import { z } from 'zod';
import { chatStateBodySchema } from '../state/state-payload-schemas.js';

/**
 * The run API's answers and events as zod schemas, for the OpenAPI document. The plain types in
 * run-payloads.ts stay the public ones; a type test (test/openapi/payload-schemas.test.ts) keeps
 * each schema's `z.infer` equal to its type. Nothing validates answers with these at run time.
 */

/**
 * One stored or sent conversation item: the SDK's own `protocol.ModelItem` schema, the one that
 * validates a `/run` input list.
 */
export const agentInputItemSchema = protocol.ModelItem;

export const runUsageSchema = z.strictObject({
  requests: z.number().int().nonnegative(),
  input_tokens: z.number().int().nonnegative(),
  output_tokens: z.number().int().nonnegative(),
  total_tokens: z.number().int().nonnegative(),
});

export const pendingApprovalSchema = z.strictObject({
  call_id: z.string(),
  tool_name: z.string(),
  arguments: z.string().describe('The arguments the model gave, as the JSON text it sent.'),
  agent_name: z.string().describe('The agent whose tool it is (after any handoff).'),
});

export const runAnswerSchema = z.strictObject({
  status: z.literal('completed'),
  final_output: z.unknown(),
  session_id: z.string(),
  run_id: z.string(),
  agent_name: z.string().describe('The agent that answered, after any handoff.'),
  usage: runUsageSchema,
});

export const awaitingApprovalAnswerSchema = z.strictObject({
  status: z.literal('awaiting_approval'),
  final_output: z.null(),
  session_id: z.string(),
  run_id: z.string(),
  agent_name: z.string(),
  usage: runUsageSchema,
  approvals: z.array(pendingApprovalSchema),
});

export const runResponseBodySchema = z
  .discriminatedUnion('status', [
    z.strictObject({ success: z.literal(true), ...runAnswerSchema.shape }),
    z.strictObject({ success: z.literal(true), ...awaitingApprovalAnswerSchema.shape }),
  ])
  .describe('How the run ended: completed, or waiting for tool approvals.');

export const backgroundRunResponseBodySchema = z.strictObject({
  success: z.literal(true),
  status: z.literal('running'),
  run_id: z.string(),
  session_id: z.string(),
});

export const errorBodySchema = z.strictObject({
  code: z.string(),
  message: z.string(),
  details: z.unknown().optional(),
});

const runIds = { session_id: z.string(), run_id: z.string(), agent_name: z.string() };
const failure = z.strictObject({ error: errorBodySchema });
/** An event's id within its run: 1, 2, 3... (the SSE `id:` line). */
const eventId = z.number().int().min(1);

/**
 * A run event as a stream sends it: `id: <id>`, `event: <event>`, `data: <JSON of data>`. One
 * schema per event name, discriminated on `event`.
 */
export const recordedRunEventSchema = z
  .discriminatedUnion('event', [
    z.strictObject({ id: eventId, event: z.literal('run.started'), data: z.strictObject(runIds) }),
    z.strictObject({
      id: eventId,
      event: z.literal('run.resumed'),
      data: z.strictObject({ ...runIds, decisions: z.array(z.strictObject({ call_id: z.string(), approved: z.boolean() })) }),
    }),
    z.strictObject({ id: eventId, event: z.literal('text.delta'), data: z.strictObject({ delta: z.string() }) }),
    z.strictObject({
      id: eventId,
      event: z.literal('tool.called'),
      data: z.strictObject({ name: z.string(), arguments: z.string(), call_id: z.string().nullable() }),
    }),
    z.strictObject({
      id: eventId,
      event: z.literal('tool.output'),
      data: z.strictObject({ call_id: z.string().nullable(), output: z.string() }),
    }),
    z.strictObject({ id: eventId, event: z.literal('agent.updated'), data: z.strictObject({ agent_name: z.string() }) }),
    // Sent before the terminal event when the run changed the state: both, as the run leaves them.
    z.strictObject({ id: eventId, event: z.literal('state.updated'), data: chatStateBodySchema }),
    z.strictObject({ id: eventId, event: z.literal('run.completed'), data: runAnswerSchema }),
    z.strictObject({ id: eventId, event: z.literal('run.awaiting_approval'), data: awaitingApprovalAnswerSchema }),
    z.strictObject({ id: eventId, event: z.literal('run.failed'), data: failure }),
    z.strictObject({ id: eventId, event: z.literal('run.cancelled'), data: failure }),
  ])
  .describe(
    'One server-sent event of a run: `id:` its id within the run, `event:` its name, `data:` one line of JSON. ' +
      'Exactly one terminal event (run.completed, run.failed, run.cancelled or run.awaiting_approval) ends the stream.',
  );
