// What the agents keep in session state (sessionState(runContext)), beside the conversation:
// - the player's preferences, under `user:preferences`: the user's own keys, shared by all their
//   chats, set by the set_preference tool and read into every agent's instructions;
// - which agent handled what in this chat, under `handled`: noted by an input guardrail that
//   never trips, once per run, whichever agent the chat goes to.
// The router saves a run's changes with its turn (none if the run fails), and the chat page
// shows both (GET /chats/:id/state, and the stream's state.updated event).
import { tool, type InputGuardrail, type RunContext } from '@openai/agents';
import { sessionState } from 'express-agent-router';
import { z } from 'zod';
import { firstWords } from '../shared/demo-model.js';

/** The player's preferences, by name (tone, pace...). */
export type Preferences = Record<string, string>;

/** One run of the chat: the agent it went to, and the first words of what it was asked. */
// A type, not an interface: state values must be JSON, which an interface cannot promise.
export type HandledRequest = {
  agent: string;
  request: string;
};

/** How many of a chat's latest runs `handled` keeps. */
const HANDLED_KEPT = 20;

export const setPreference = tool({
  name: 'set_preference',
  description:
    "Saves one of the player's preferences for every chat and every agent, e.g. tone: grim, or pace: fast. " +
    'Call it when the player says what they prefer.',
  parameters: z.object({
    name: z.string().min(1).max(40).describe('What the preference is about, in one word: tone, pace, ...'),
    value: z.string().min(1).max(80).describe('What the player prefers, e.g. "grim".'),
  }),
  execute: ({ name, value }, runContext) => {
    const state = sessionState(runContext);
    const preferences = { ...(state.get<Preferences>('user:preferences') ?? {}), [name]: value };
    state.set('user:preferences', preferences);
    return `Saved: ${name} ${value}.`;
  },
});

/** An agent's instructions, followed by the player's preferences when they have any. */
export function withPreferences(instructions: string) {
  return (runContext: RunContext<unknown>): string => {
    const preferences = Object.entries(sessionState(runContext).get<Preferences>('user:preferences') ?? {});
    if (preferences.length === 0) return instructions;
    return `${instructions} The player prefers: ${preferences.map(([name, value]) => `${name} ${value}`).join(', ')}.`;
  };
}

/** Notes which agent the run went to and what it was asked; never stops a run. */
export const noteWhoHandledWhat: InputGuardrail = {
  name: 'note_who_handled_what',
  execute: async ({ agent, input, context }) => {
    const asked = typeof input === 'string' ? input : textOf(input.at(-1));
    const state = sessionState(context);
    const handled = state.get<HandledRequest[]>('handled') ?? [];
    state.set('handled', [...handled, { agent: agent.name, request: firstWords(asked, 8) }].slice(-HANDLED_KEPT));
    return { tripwireTriggered: false, outputInfo: null };
  },
};

function textOf(item: unknown): string {
  const content = (item as { content?: unknown } | undefined)?.content;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((part: { text?: unknown }) => (typeof part.text === 'string' ? part.text : '')).join('');
}
