import { z } from 'zod';
import { chatStateBodySchema } from '../state/state-payload-schemas.js';

/**
 * The AI SDK endpoints' answers as zod schemas, for the OpenAPI document: the UI message chunks
 * of the stream (ui-message-chunks.ts) and the stored history as UIMessages (ui-messages.ts).
 * Those files' plain types stay the public ones; a type test (test/openapi/payload-schemas.test.ts)
 * keeps each schema's `z.infer` equal to its type.
 */

export const uiMessageMetadataSchema = z
  .strictObject({
    run_id: z.string().optional(),
    agent_name: z.string().optional(),
    error_code: z.string().optional().describe("On a failed run: the library's error code (the `error` chunk carries the message)."),
  })
  .describe('Which run wrote an assistant message, and which agent answered.');

const toolCallId = z.string();

export const uiMessageChunkSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ type: z.literal('start'), messageId: z.string(), messageMetadata: uiMessageMetadataSchema }),
    z.strictObject({ type: z.literal('start-step') }),
    z.strictObject({ type: z.literal('finish-step') }),
    z.strictObject({ type: z.literal('text-start'), id: z.string() }),
    z.strictObject({ type: z.literal('text-delta'), id: z.string(), delta: z.string() }),
    z.strictObject({ type: z.literal('text-end'), id: z.string() }),
    z.strictObject({ type: z.literal('tool-input-available'), toolCallId, toolName: z.string(), input: z.unknown() }),
    z.strictObject({ type: z.literal('tool-output-available'), toolCallId, output: z.unknown() }),
    z.strictObject({ type: z.literal('tool-output-error'), toolCallId, errorText: z.string() }),
    z.strictObject({ type: z.literal('tool-output-denied'), toolCallId }),
    z.strictObject({ type: z.literal('tool-approval-request'), approvalId: z.string(), toolCallId }),
    z.strictObject({ type: z.literal('message-metadata'), messageMetadata: uiMessageMetadataSchema }),
    z
      .strictObject({
        type: z.literal('data-state'),
        data: chatStateBodySchema,
        transient: z.literal(true),
      })
      .describe("The session state after the run changed it (`state.updated`): reaches useChat's `onData` only, never the message."),
    z.strictObject({ type: z.literal('error'), errorText: z.string() }),
    z.strictObject({ type: z.literal('abort') }),
    z.strictObject({
      type: z.literal('finish'),
      finishReason: z.enum(['stop', 'tool-calls', 'error', 'other']),
      messageMetadata: uiMessageMetadataSchema,
    }),
  ])
  .describe(
    "One chunk of the AI SDK's UI message stream (what `useChat` reads): the JSON of one `data:` line. " +
      'The stream ends with the line `data: [DONE]`.',
  );

export const uiMessagePartSchema = z.union([
  z.strictObject({ type: z.literal('step-start') }),
  z.strictObject({ type: z.literal('text'), text: z.string(), state: z.literal('done') }),
  z.strictObject({ type: z.literal('reasoning'), text: z.string(), state: z.literal('done') }),
  z.strictObject({ type: z.literal('file'), mediaType: z.string(), url: z.string(), filename: z.string().optional() }),
  z.strictObject({
    type: z.templateLiteral(['tool-', z.string()]).describe('`tool-<tool name>`.'),
    toolCallId,
    state: z.enum(['input-available', 'approval-requested', 'output-available', 'output-error']),
    input: z.unknown(),
    output: z.unknown().optional(),
    errorText: z.string().optional(),
    approval: z.strictObject({ id: z.string() }).optional(),
  }),
]);

export const uiMessageSchema = z
  .strictObject({
    id: z.string(),
    role: z.enum(['user', 'assistant']),
    metadata: uiMessageMetadataSchema.optional(),
    parts: z.array(uiMessagePartSchema),
  })
  .describe("A chat message as the AI SDK's `useChat` holds it (`UIMessage`).");

export const uiMessagesBodySchema = z.strictObject({ messages: z.array(uiMessageSchema) });
