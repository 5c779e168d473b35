import type { RunContext } from '@openai/agents';
import type { AnyKysely } from '../db/schema.js';
import { InvalidArgumentError } from '../errors.js';
import type { SessionState } from '../state/session-state.js';

/** Who and what a run served by the router is: what tools and instructions can ask. */
export interface RunInfo {
  /** The user the run is for (what `getUserId` returned). */
  readonly userId: string;
  /** The chat (session) the run is on. */
  readonly chatId: string;
  readonly runId: string;
  /** The agent the run was started on. */
  readonly agentName: string;
}

/** What the library keeps for a run beside the SDK's run context. */
export interface RunScope extends RunInfo {
  readonly db: AnyKysely;
  /** The run's session state (the chat's, the user's, the run's own). */
  readonly state: SessionState;
}

const scopes = new WeakMap<object, RunScope>();

/** Ties a run's scope to the SDK run context the router created for it. */
export function bindRunScope(runContext: RunContext<unknown>, scope: RunScope): void {
  scopes.set(runContext, scope);
}

/** The scope of a run the router serves, or `undefined` for any other run context. */
export function scopeOf(runContext: RunContext<unknown> | undefined): RunScope | undefined {
  return runContext ? scopes.get(runContext) : undefined;
}

/**
 * Who and what the current run is, for tools, dynamic instructions and guardrails of an agent
 * served by `createAgentRouter`: they get the SDK's run context as an argument.
 *
 * ```ts
 * import { tool } from '@openai/agents';
 * import { z } from 'zod';
 * import { runInfo } from 'express-agent-router';
 *
 * const whoAmI = tool({
 *   name: 'who_am_i',
 *   description: 'Tells the user their id.',
 *   parameters: z.object({}),
 *   execute: async (_args, runContext) => `You are ${runInfo(runContext).userId}.`,
 * });
 * ```
 *
 * Throws `InvalidArgumentError` for a run the router did not start (a plain `run()` call).
 */
export function runInfo(runContext: RunContext<unknown> | undefined): RunInfo {
  const scope = scopeOf(runContext);
  if (!scope) {
    throw new InvalidArgumentError(
      'runInfo(runContext): this run was not started by createAgentRouter, so it has no user, chat or run id. ' +
        'Pass the run context your tool, instructions or guardrail received, from an agent served by the router.',
    );
  }
  return { userId: scope.userId, chatId: scope.chatId, runId: scope.runId, agentName: scope.agentName };
}
