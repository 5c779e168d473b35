import { tool, type FunctionTool, type RunContext } from '@openai/agents';
import { z } from 'zod';
import { ConfigurationError, InvalidArgumentError } from '../errors.js';
import { scopeOf, type RunScope } from '../runs/run-context.js';
import { MAX_MEMORY_LENGTH, PostgresMemoryStore, type Memory } from './postgres-memory-store.js';

export interface RememberToolOptions {
  /** The tool's name, as the model sees it. Defaults to `"remember"`. */
  name?: string;
  /** What the model is told the tool is for. Defaults to a sentence about lasting facts of the user. */
  description?: string;
}

export interface RecallToolOptions {
  /** The tool's name, as the model sees it. Defaults to `"recall"`. */
  name?: string;
  /** What the model is told the tool is for. Defaults to a sentence about earlier conversations. */
  description?: string;
  /** How many memories one call returns, at most (1 to 50). Defaults to 5. */
  limit?: number;
}

const rememberParameters = z.object({
  content: z.string().describe('The fact to remember, as one short self-contained sentence.'),
  importance: z
    .number()
    .min(0)
    .max(1)
    .describe('How much it matters later, from 0 (trivia) to 1 (must never be forgotten).'),
});

const recallParameters = z.object({
  query: z.string().describe('Words to look for, such as the names or subjects the user is asking about.'),
});

/**
 * An SDK function tool that stores a memory of the user the run is for, which any agent can
 * find again in any later chat of that user (with `recallTool()` or the agent router's
 * `memories.recall` option). The user comes from the run the router started, never from the
 * model's arguments, so a model cannot write into another user's memories.
 *
 * ```ts
 * import { Agent } from '@openai/agents';
 * import { recallTool, rememberTool } from 'express-agent-router';
 *
 * const agent = new Agent({
 *   name: 'Assistant',
 *   instructions: 'Remember lasting facts about the user; recall them when they matter.',
 *   tools: [rememberTool(), recallTool()],
 * });
 * ```
 *
 * It works only in runs started by `createAgentRouter`; elsewhere the call fails (the model is
 * told the tool failed).
 */
export function rememberTool(options: RememberToolOptions = {}): FunctionTool<unknown, typeof rememberParameters, string> {
  const { name, description } = checkOptions('rememberTool', options, 'remember');
  return tool({
    name,
    description:
      description ??
      'Remembers a lasting fact about the user (their name, preferences, projects, characters...) for later conversations. ' +
        'Use it for what will still matter in another chat, not for the chat itself.',
    parameters: rememberParameters,
    execute: async ({ content, importance }, runContext) => {
      const scope = runScope(runContext, name);
      // The model's mistake, not the tool's: said back so it can shorten and call again.
      if (content.length > MAX_MEMORY_LENGTH) return `Not remembered: keep it under ${MAX_MEMORY_LENGTH} characters.`;
      if (content.trim().length === 0) return 'Not remembered: the content is empty.';
      const memory = await new PostgresMemoryStore({ db: scope.db }).remember(scope.userId, {
        content,
        importance,
        agentName: scope.agentName,
        chatId: scope.chatId,
        runId: scope.runId,
      });
      return `Remembered (memory ${memory.id}).`;
    },
  });
}

/**
 * An SDK function tool that searches the memories of the user the run is for (see
 * `PostgresMemoryStore.recall` for the ranking) and tells the model the best ones, each marked as
 * used. Scoped to the run's user like `rememberTool()`: the model's query cannot reach anyone
 * else's memories.
 */
export function recallTool(options: RecallToolOptions = {}): FunctionTool<unknown, typeof recallParameters, string> {
  const { name, description } = checkOptions('recallTool', options, 'recall');
  const limit = options.limit ?? 5;
  if (!Number.isInteger(limit) || limit < 1 || limit > 50) {
    throw new ConfigurationError(`recallTool: limit must be an integer from 1 to 50, got ${String(limit)}.`);
  }
  return tool({
    name,
    description:
      description ??
      'Searches what was remembered about the user in earlier conversations. Returns the best matches, most relevant first.',
    parameters: recallParameters,
    execute: async ({ query }, runContext) => {
      const scope = runScope(runContext, name);
      const found = await new PostgresMemoryStore({ db: scope.db }).recall(scope.userId, query, { limit });
      return found.length === 0 ? 'Nothing remembered matches.' : found.map(memoryLine).join('\n');
    },
  });
}

/** One memory as the model reads it: the content, then its importance and date. */
export function memoryLine(memory: Memory): string {
  return `- ${memory.content} (importance ${memory.importance}, remembered ${memory.createdAt.toISOString().slice(0, 10)})`;
}

function runScope(runContext: RunContext<unknown> | undefined, toolName: string): RunScope {
  const scope = scopeOf(runContext);
  if (!scope) {
    throw new InvalidArgumentError(
      `The ${toolName} tool works only in runs started by createAgentRouter, which say whose memories they are.`,
    );
  }
  return scope;
}

/** Tool names as the model providers accept them. */
const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

function checkOptions(factory: string, options: RememberToolOptions, defaultName: string) {
  if (options === null || typeof options !== 'object') throw new ConfigurationError(`${factory}: options must be an object.`);
  const name = options.name ?? defaultName;
  if (typeof name !== 'string' || !TOOL_NAME.test(name)) {
    throw new ConfigurationError(`${factory}: name must be 1 to 64 letters, digits, _ or -, such as "${defaultName}".`);
  }
  if (options.description !== undefined && (typeof options.description !== 'string' || options.description.length === 0)) {
    throw new ConfigurationError(`${factory}: description must be a non-empty string.`);
  }
  return { name, description: options.description };
}
