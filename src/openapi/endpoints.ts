import { z } from 'zod';
import { agentInfoBodySchema } from '../agent-router/agent-info-schema.js';
import { chatParamsSchema, messagesQuerySchema } from '../agent-router/ai-sdk-routes.js';
import { decisionsBodySchema, runBodySchema, runIdParamsSchema } from '../agent-router/request-bodies.js';
import { chatRequestBodySchema } from '../ai-sdk/chat-request.js';
import { uiMessagesBodySchema } from '../ai-sdk/ui-message-schemas.js';
import {
  cancelRunBodySchema,
  chatBodySchema,
  chatListBodySchema,
  chatWithConversationBodySchema,
  itemsPageBodySchema,
  runRecordBodySchema,
  runsPageBodySchema,
} from '../chats/chat-payload-schemas.js';
import { eventId, followQuerySchema, runParamsSchema } from '../chats/chat-run-routes.js';
import { patchStateBodySchema } from '../chats/chat-state-routes.js';
import {
  chatIdParamsSchema,
  createChatBodySchema,
  listChatsQuerySchema,
  listItemsQuerySchema,
  listRunsQuerySchema,
  readChatQuerySchema,
  updateChatBodySchema,
} from '../chats/chat-schemas.js';
import { healthBodySchema } from '../health/health-body-schema.js';
import { memoriesDeletedBodySchema, memoryListBodySchema } from '../memories/memory-payload-schemas.js';
import { listMemoriesQuerySchema, memoryIdParamsSchema } from '../memories/memory-schemas.js';
import { metricsQuerySchema } from '../metrics/create-metrics-router.js';
import { metricsBodySchema } from '../metrics/metrics-payload-schemas.js';
import { PROMETHEUS_CONTENT_TYPE } from '../metrics/prometheus-text.js';
import { backgroundRunResponseBodySchema, runResponseBodySchema } from '../runs/run-payload-schemas.js';
import { chatStateBodySchema } from '../state/state-payload-schemas.js';
import type { ErrorCode } from './error-codes.js';

/**
 * The one registry of the HTTP API: every endpoint of every router, with the zod schemas that
 * validate its requests and describe its answers. The OpenAPI document is built from it, and
 * the conformance test (test/openapi/conformance.test.ts) drives each entry over HTTP and checks
 * the real answers against the document. To add an endpoint, add an entry here (and, for a new
 * router, a name to `RouterName` and its option to the document's options).
 */

/**
 * Which router serves an endpoint. Agent endpoints are mounted under each agent's prefix; the
 * memory, metrics and health routers' under their `path`.
 */
export type RouterName = 'agent' | 'chat' | 'memory' | 'metrics' | 'health';

/** The streams a response can be, each a sequence of server-sent events. */
export type EventStreamKind = 'run-events' | 'ui-message-chunks';

/** A header of an answer or a request, by name. */
export interface EndpointHeader {
  description: string;
  schema: z.ZodType;
}

export interface EndpointResponse {
  description: string;
  /** The JSON body (`application/json`). */
  json?: z.ZodType;
  /** A `text/event-stream` body: the run's events, or the AI SDK's UI message chunks. */
  stream?: EventStreamKind;
  /** A plain-text body of this media type (`text/plain`): a string the schema says no more of. */
  text?: string;
  /** Headers the answer carries (the streams' own are added by the document). */
  headers?: Record<string, EndpointHeader>;
}

export interface Endpoint {
  /** Unique among the router's endpoints: the operationId (agent ones get their prefix added). */
  id: string;
  router: RouterName;
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** The OpenAPI path (`{name}` for a path parameter); an agent endpoint's is after its prefix. */
  path: string;
  /** Groups the endpoints of the other routers; agent endpoints are grouped by their prefix. */
  tag?: string;
  summary: string;
  description?: string;
  /** The path parameters, as the route parses them. */
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: z.ZodObject;
  /** The JSON body; `mediaTypes` defaults to `['application/json']`. */
  body?: { schema: z.ZodType; required: boolean; mediaTypes?: readonly string[] };
  /**
   * The answers that are not error envelopes, by status (health's 503 is an answer of its own
   * kind: `{ "status": "unavailable" }`).
   */
  responses: Partial<Record<200 | 201 | 202 | 204 | 503, EndpointResponse>>;
  /** The error codes it can answer (with the JSON error envelope), from error-codes.ts. */
  errors: readonly ErrorCode[];
}

/** What a run can end with, when a request waits for the end (`/run`, a decision). */
const RUN_OUTCOME_ERRORS = [
  'run_cancelled',
  'lease_lost',
  'chat_deleted',
  'max_turns_exceeded',
  'guardrail_triggered',
  'model_error',
  'run_timeout',
  'shutting_down',
] as const satisfies readonly ErrorCode[];
/** Every endpoint that knows its caller and reads the database. */
const REQUEST_ERRORS = ['invalid_request', 'unauthorized', 'database_unavailable', 'internal_error'] as const satisfies readonly ErrorCode[];
/** A run that starts: before the lease is held. */
const START_ERRORS = ['chat_not_found', 'approval_pending', 'session_busy', 'shutting_down'] as const satisfies readonly ErrorCode[];

/** The header a reconnecting EventSource sends (parsed by the route with the same schema as `?after=`). */
const followRunHeadersSchema = z.strictObject({ 'Last-Event-ID': eventId.optional() });

const runEvents = (description: string): EndpointResponse => ({ description, stream: 'run-events' });

/** Answers that proxies and browsers must not keep. */
const noStore: Record<string, EndpointHeader> = {
  'Cache-Control': { description: 'Never cached.', schema: z.literal('no-store') },
};
/** What the metrics endpoints can answer: `authorize` is asked first. */
const METRICS_ERRORS = ['invalid_request', 'forbidden', 'database_unavailable', 'internal_error'] as const satisfies readonly ErrorCode[];

/** The version of a chat's state and its owner's, as the state endpoints answer it. */
const stateTag: EndpointHeader = {
  description: 'The version of both states (a change to either changes it); send it back as `If-Match`.',
  schema: z.string().meta({ examples: ['"c3-u1"'] }),
};
/** `If-Match` of `PATCH /chats/{id}/state` (the route compares it with the current ETag). */
const stateIfMatchHeadersSchema = z.strictObject({
  'If-Match': z
    .string()
    .optional()
    .describe('Change the state only if it is still at this version: an `ETag` (several, comma-separated), or `*`. Without it, the patch applies to whatever the state is.'),
});

export const ENDPOINTS: readonly Endpoint[] = [
  {
    id: 'runAgent',
    router: 'agent',
    method: 'post',
    path: '/run',
    summary: 'Run the agent and answer with how the run ended',
    description:
      'Without `session_id`, a new chat is created for the caller. `input` is a message or a list of input items ' +
      '(user messages only, unless the router has `acceptInputItems: "any"`). With `"background": true` the answer is ' +
      '202 as soon as the run holds its chat; follow it with `GET /chats/{id}/runs/{run_id}/stream`.',
    body: { schema: runBodySchema, required: true },
    responses: {
      200: { description: 'The run completed, or waits for tool approvals.', json: runResponseBodySchema },
      202: { description: 'A background run started.', json: backgroundRunResponseBodySchema },
    },
    errors: [...REQUEST_ERRORS, 'payload_too_large', ...START_ERRORS, ...RUN_OUTCOME_ERRORS],
  },
  {
    id: 'streamAgent',
    router: 'agent',
    method: 'post',
    path: '/stream',
    summary: "Run the agent and stream its events",
    description:
      'Errors found before the run starts are JSON answers; once the run holds its chat, the answer is ' +
      '`text/event-stream`, and a failure arrives as `run.failed`.',
    body: { schema: runBodySchema, required: true },
    responses: { 200: runEvents("The run's events, up to its terminal event.") },
    errors: [...REQUEST_ERRORS, 'payload_too_large', ...START_ERRORS],
  },
  {
    id: 'decideApprovals',
    router: 'agent',
    method: 'post',
    path: '/runs/{run_id}/approvals',
    summary: 'Approve or reject the tool calls a run waits for, and resume it',
    description:
      'On the prefix the run started on, by the chat\'s owner. Answers like `/run`, or with `"stream": true` like ' +
      '`/stream` (the resumed events, `run.resumed` first). Exactly once: a concurrent or retried decision answers 409 ' +
      '`run_not_awaiting_approval` and runs nothing.',
    params: runIdParamsSchema,
    body: { schema: decisionsBodySchema, required: true },
    responses: {
      200: {
        description: 'How the resumed run ended (`application/json`), or its events (`"stream": true`).',
        json: runResponseBodySchema,
        stream: 'run-events',
      },
    },
    errors: [...REQUEST_ERRORS, 'payload_too_large', 'run_not_found', 'run_not_awaiting_approval', ...RUN_OUTCOME_ERRORS],
  },
  {
    id: 'agentInfo',
    router: 'agent',
    method: 'get',
    path: '/info',
    summary: 'Describe the agent: model, tools, MCP servers',
    responses: { 200: { description: 'The agent.', json: agentInfoBodySchema } },
    errors: ['invalid_request', 'unauthorized', 'internal_error'],
  },
  {
    id: 'aiSdkChat',
    router: 'agent',
    method: 'post',
    path: '/chat',
    summary: "The AI SDK's useChat endpoint: send a message, regenerate, or answer tool approvals",
    description:
      "The body `useChat`'s `DefaultChatTransport` sends. Only the newest message counts (the stored history is the " +
      'truth); an unknown chat id is a new chat for the caller. The answer is the UI message stream.',
    body: { schema: chatRequestBodySchema, required: true },
    responses: { 200: { description: "The run as the AI SDK's UI message stream.", stream: 'ui-message-chunks' } },
    errors: [...REQUEST_ERRORS, 'payload_too_large', ...START_ERRORS, 'run_not_found', 'run_not_awaiting_approval'],
  },
  {
    id: 'aiSdkResume',
    router: 'agent',
    method: 'get',
    path: '/chat/{chat_id}/stream',
    summary: "Resume the chat's active run as a UI message stream (useChat's resume)",
    params: chatParamsSchema,
    responses: {
      200: { description: 'The active run from its start, as the UI message stream.', stream: 'ui-message-chunks' },
      204: { description: "No run is active on the chat (or the chat is unknown, or another user's)." },
    },
    errors: REQUEST_ERRORS,
  },
  {
    id: 'aiSdkMessages',
    router: 'agent',
    method: 'get',
    path: '/chat/{chat_id}/messages',
    summary: "The chat's stored history as UIMessages, for useChat({ messages })",
    params: chatParamsSchema,
    query: messagesQuerySchema,
    responses: { 200: { description: 'The newest `limit` stored items, as messages.', json: uiMessagesBodySchema } },
    errors: [...REQUEST_ERRORS, 'chat_not_found'],
  },

  {
    id: 'createChat',
    router: 'chat',
    tag: 'chats',
    method: 'post',
    path: '/chats',
    summary: 'Create a chat',
    body: { schema: createChatBodySchema, required: false },
    responses: { 201: { description: 'The new chat.', json: chatBodySchema } },
    errors: [...REQUEST_ERRORS, 'payload_too_large'],
  },
  {
    id: 'listChats',
    router: 'chat',
    tag: 'chats',
    method: 'get',
    path: '/chats',
    summary: "List the caller's chats, most recently updated first",
    query: listChatsQuerySchema,
    responses: { 200: { description: 'A page of chats.', json: chatListBodySchema } },
    errors: REQUEST_ERRORS,
  },
  {
    id: 'readChat',
    router: 'chat',
    tag: 'chats',
    method: 'get',
    path: '/chats/{id}',
    summary: 'Read a chat with a page of its readable conversation',
    description:
      'The newest `limit` stored items (before `before`), oldest first: text parts joined, tool calls and results ' +
      'summarised as `tool` lines, system messages and reasoning left out.',
    params: chatIdParamsSchema,
    query: readChatQuerySchema,
    responses: { 200: { description: 'The chat and a page of its conversation.', json: chatWithConversationBodySchema } },
    errors: [...REQUEST_ERRORS, 'chat_not_found'],
  },
  {
    id: 'updateChat',
    router: 'chat',
    tag: 'chats',
    method: 'put',
    path: '/chats/{id}',
    summary: 'Rename a chat, replace its metadata, or clear its history',
    description: '`metadata` replaces the whole object; `"conversation": null` clears the history and keeps the chat.',
    params: chatIdParamsSchema,
    body: { schema: updateChatBodySchema, required: false },
    responses: { 200: { description: 'The chat.', json: chatBodySchema } },
    errors: [...REQUEST_ERRORS, 'payload_too_large', 'chat_not_found'],
  },
  {
    id: 'deleteChat',
    router: 'chat',
    tag: 'chats',
    method: 'delete',
    path: '/chats/{id}',
    summary: 'Delete a chat, its items and its runs',
    params: chatIdParamsSchema,
    responses: { 204: { description: 'Deleted.' } },
    errors: [...REQUEST_ERRORS, 'chat_not_found'],
  },
  {
    id: 'listItems',
    router: 'chat',
    tag: 'chats',
    method: 'get',
    path: '/chats/{id}/items',
    summary: "Page through a chat's stored items, oldest first",
    params: chatIdParamsSchema,
    query: listItemsQuerySchema,
    responses: { 200: { description: 'A page of items, exactly as stored.', json: itemsPageBodySchema } },
    errors: [...REQUEST_ERRORS, 'chat_not_found'],
  },
  {
    id: 'listRuns',
    router: 'chat',
    tag: 'runs',
    method: 'get',
    path: '/chats/{id}/runs',
    summary: "Page through a chat's runs, newest first",
    params: chatIdParamsSchema,
    query: listRunsQuerySchema,
    responses: { 200: { description: 'A page of run records.', json: runsPageBodySchema } },
    errors: [...REQUEST_ERRORS, 'chat_not_found'],
  },
  {
    id: 'readRun',
    router: 'chat',
    tag: 'runs',
    method: 'get',
    path: '/chats/{id}/runs/{run_id}',
    summary: 'Read a run record',
    params: runParamsSchema,
    responses: { 200: { description: 'The run record.', json: runRecordBodySchema } },
    errors: [...REQUEST_ERRORS, 'chat_not_found', 'run_not_found'],
  },
  {
    id: 'followRun',
    router: 'chat',
    tag: 'runs',
    method: 'get',
    path: '/chats/{id}/runs/{run_id}/stream',
    summary: "Follow a run's events, from any instance",
    description:
      'The events after `Last-Event-ID` (or `?after=`; the larger wins), from the start without either, then the new ones ' +
      'as they happen, up to the terminal event: each exactly once, also after a reconnect.',
    params: runParamsSchema,
    query: followQuerySchema,
    headers: followRunHeadersSchema,
    responses: { 200: runEvents("The run's events.") },
    errors: [...REQUEST_ERRORS, 'chat_not_found', 'run_not_found'],
  },
  {
    id: 'cancelRun',
    router: 'chat',
    tag: 'runs',
    method: 'post',
    path: '/chats/{id}/runs/{run_id}/cancel',
    summary: 'Cancel a run, from any instance',
    description: 'Waits up to three seconds for the run to stop. Cancelling a cancelled run again answers 200.',
    params: runParamsSchema,
    responses: {
      200: { description: 'The run stopped: `status` is `cancelled`.', json: cancelRunBodySchema },
      202: { description: 'The run is still stopping after a few seconds: `status` is `running`.', json: cancelRunBodySchema },
    },
    errors: [...REQUEST_ERRORS, 'chat_not_found', 'run_not_found', 'run_finished'],
  },
  {
    id: 'followChat',
    router: 'chat',
    tag: 'runs',
    method: 'get',
    path: '/chats/{id}/stream',
    summary: "Follow the chat's active run",
    params: chatIdParamsSchema,
    query: followQuerySchema,
    headers: followRunHeadersSchema,
    responses: {
      200: runEvents("The active run's events, as `GET /chats/{id}/runs/{run_id}/stream` sends them."),
      204: { description: 'No run is active on the chat.' },
    },
    errors: [...REQUEST_ERRORS, 'chat_not_found'],
  },
  {
    id: 'readChatState',
    router: 'chat',
    tag: 'state',
    method: 'get',
    path: '/chats/{id}/state',
    summary: "Read a chat's session state and its owner's",
    description: "`state` is the chat's; `user_state` is the user's, shared by all their chats (a run sees those keys as `user:<key>`).",
    params: chatIdParamsSchema,
    responses: { 200: { description: 'Both states, with their version.', json: chatStateBodySchema, headers: { ETag: stateTag } } },
    errors: [...REQUEST_ERRORS, 'chat_not_found'],
  },
  {
    id: 'updateChatState',
    router: 'chat',
    tag: 'state',
    method: 'patch',
    path: '/chats/{id}/state',
    summary: "Change a chat's session state or its owner's with a JSON merge patch",
    description:
      'Each of `state` and `user_state` is a JSON merge patch (RFC 7396) of that state: keys merge, `null` removes one. ' +
      'Chat keys cannot start with `user:` or `temp:` (put user keys in `user_state`), and neither state may grow over ' +
      '64 KiB of JSON. Between runs only: while a run holds the chat it writes the state with its turn, so a patch is ' +
      'refused with 409 `session_busy`.',
    params: chatIdParamsSchema,
    headers: stateIfMatchHeadersSchema,
    body: { schema: patchStateBodySchema, required: false, mediaTypes: ['application/json', 'application/merge-patch+json'] },
    responses: { 200: { description: 'Both states after the patch, with their new version.', json: chatStateBodySchema, headers: { ETag: stateTag } } },
    errors: [...REQUEST_ERRORS, 'payload_too_large', 'chat_not_found', 'precondition_failed', 'session_busy'],
  },

  {
    id: 'listMemories',
    router: 'memory',
    tag: 'memories',
    method: 'get',
    path: '',
    summary: "List the caller's memories, newest first",
    query: listMemoriesQuerySchema,
    responses: { 200: { description: 'A page of memories.', json: memoryListBodySchema } },
    errors: REQUEST_ERRORS,
  },
  {
    id: 'deleteAllMemories',
    router: 'memory',
    tag: 'memories',
    method: 'delete',
    path: '',
    summary: "Delete every memory of the caller",
    responses: { 200: { description: 'How many were deleted.', json: memoriesDeletedBodySchema } },
    errors: REQUEST_ERRORS,
  },
  {
    id: 'deleteMemory',
    router: 'memory',
    tag: 'memories',
    method: 'delete',
    path: '/{memory_id}',
    summary: 'Delete one memory of the caller',
    params: memoryIdParamsSchema,
    responses: { 204: { description: 'Deleted.' } },
    errors: [...REQUEST_ERRORS, 'memory_not_found'],
  },

  {
    id: 'readMetrics',
    router: 'metrics',
    tag: 'metrics',
    method: 'get',
    path: '',
    summary: 'Metrics per agent over a window, from the run records',
    description:
      'Runs started in the window count (`since` inclusive, `until` exclusive; by default the router\'s `windowMs` before ' +
      'now), for the agent they started on. `authorize` is asked before the query is read.',
    query: metricsQuerySchema,
    responses: { 200: { description: 'The metrics of each agent.', json: metricsBodySchema, headers: noStore } },
    errors: METRICS_ERRORS,
  },
  {
    id: 'readPrometheusMetrics',
    router: 'metrics',
    tag: 'metrics',
    method: 'get',
    path: '/prometheus',
    summary: 'The same metrics in the Prometheus text format',
    description:
      'The text exposition format 0.0.4: every figure is about the window, so they are gauges (the run durations a ' +
      'summary, in seconds). Prometheus scrapes without a query, so its window is the router\'s `windowMs`.',
    query: metricsQuerySchema,
    responses: { 200: { description: 'The metrics, one family per figure.', text: PROMETHEUS_CONTENT_TYPE, headers: noStore } },
    errors: METRICS_ERRORS,
  },

  {
    id: 'checkHealth',
    router: 'health',
    tag: 'health',
    method: 'get',
    path: '',
    summary: 'Whether this instance can serve: for load balancers and orchestrators',
    description:
      '`HEAD` answers the same status without a body. Asks for no user; never says why it is unavailable (the logger ' +
      'is told, once per change).',
    responses: {
      200: { description: 'No router drains, the database answers in time and has every migration: `ok`.', json: healthBodySchema, headers: noStore },
      503: {
        description: 'A router drains, or the database is unreachable, slow or missing a migration: `unavailable`.',
        json: healthBodySchema,
        headers: noStore,
      },
    },
    errors: [],
  },
];
