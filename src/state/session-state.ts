import { isDeepStrictEqual } from 'node:util';
import type { RunContext } from '@openai/agents';
import { InvalidArgumentError } from '../errors.js';
import { scopeOf } from '../runs/run-context.js';

/** A value a state key can hold: anything JSON holds. */
export type StateValue = null | boolean | number | string | StateValue[] | { [key: string]: StateValue };

/** Keys with this prefix are the user's, shared by all their chats. */
export const USER_PREFIX = 'user:';
/** Keys with this prefix live for one run only, and are never stored. */
export const TEMP_PREFIX = 'temp:';
/** The most a stored state (a chat's, or a user's) may hold, as JSON. */
export const MAX_STATE_BYTES = 64 * 1024;

/** What a run changed, for the statement that writes its turn. */
export interface StateChanges {
  /** The chat's whole new state, when it changed. */
  chat: Record<string, StateValue> | undefined;
  /** User keys (without their prefix) set, and deleted. */
  userSet: Record<string, StateValue>;
  userDeleted: string[];
}

/**
 * The state of a run served by the router, ADK-style: a JSON object per chat, whose `user:` keys
 * are the user's (shared by all their chats) and whose `temp:` keys live for this run only. A
 * run's changes are written with its turn, in the same statement: a run that fails or is
 * cancelled changes nothing; two runs on two chats of one user both land their `user:` keys
 * (each key is merged, none lost).
 *
 * Get it with `sessionState(runContext)` from a tool, dynamic instructions or a guardrail.
 */
export class SessionState {
  readonly #chat: Record<string, StateValue>;
  readonly #user: Record<string, StateValue>;
  readonly #temp: Record<string, StateValue> = {};
  #chatChanged = false;
  readonly #userSet: Record<string, StateValue> = {};
  readonly #userDeleted = new Set<string>();
  #changed = false;

  constructor(chat: Record<string, StateValue>, user: Record<string, StateValue>) {
    this.#chat = { ...chat };
    this.#user = { ...user };
  }

  /** The value of `key` (`user:...` for the user's keys, `temp:...` for this run's), or `undefined`. */
  get<T extends StateValue = StateValue>(key: string): T | undefined {
    const [store, name] = this.#locate(key);
    return (Object.hasOwn(store, name) ? store[name] : undefined) as T | undefined;
  }

  has(key: string): boolean {
    const [store, name] = this.#locate(key);
    return Object.hasOwn(store, name);
  }

  /** Sets `key` to a JSON value. Throws `InvalidArgumentError` for a value JSON cannot hold, or a state over 64 KiB. */
  set(key: string, value: StateValue): void {
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch {
      json = undefined;
    }
    if (json === undefined || !sameAfterJson(value, json)) {
      throw new InvalidArgumentError(`sessionState.set(${JSON.stringify(key)}): the value must be JSON (no undefined, functions, NaN or cycles).`);
    }
    const [store, name, kind] = this.#locate(key);
    const copy = JSON.parse(json) as StateValue;
    const before = Object.hasOwn(store, name) ? store[name] : undefined;
    store[name] = copy;
    if (kind !== 'temp' && Buffer.byteLength(JSON.stringify(store)) > MAX_STATE_BYTES) {
      if (before === undefined) delete store[name];
      else store[name] = before;
      throw new InvalidArgumentError(`sessionState.set(${JSON.stringify(key)}): the ${kind} state would be over ${MAX_STATE_BYTES} bytes of JSON.`);
    }
    this.#mark(kind, name, copy);
  }

  delete(key: string): void {
    const [store, name, kind] = this.#locate(key);
    if (!Object.hasOwn(store, name)) return;
    delete store[name];
    this.#mark(kind, name, undefined);
  }

  /** The whole state as a run sees it: the chat's keys, the user's (`user:`), this run's (`temp:`). */
  toJSON(): Record<string, StateValue> {
    return {
      ...this.#chat,
      ...Object.fromEntries(Object.entries(this.#user).map(([name, value]) => [USER_PREFIX + name, value])),
      ...Object.fromEntries(Object.entries(this.#temp).map(([name, value]) => [TEMP_PREFIX + name, value])),
    };
  }

  /** What the run changed (temp keys aside), or `undefined` when it changed nothing stored. */
  changes(): StateChanges | undefined {
    if (!this.#changed) return undefined;
    return { chat: this.#chatChanged ? { ...this.#chat } : undefined, userSet: { ...this.#userSet }, userDeleted: [...this.#userDeleted] };
  }

  /** The chat's and the user's state as this run leaves them (for the `state.updated` event). */
  snapshot(): { state: Record<string, StateValue>; user_state: Record<string, StateValue> } {
    return { state: { ...this.#chat }, user_state: { ...this.#user } };
  }

  #locate(key: string): [Record<string, StateValue>, string, 'chat' | 'user' | 'temp'] {
    if (typeof key !== 'string' || key === '' || key === USER_PREFIX || key === TEMP_PREFIX) {
      throw new InvalidArgumentError(`sessionState: a key must be a non-empty string, got ${JSON.stringify(key)}.`);
    }
    if (key.startsWith(USER_PREFIX)) return [this.#user, key.slice(USER_PREFIX.length), 'user'];
    if (key.startsWith(TEMP_PREFIX)) return [this.#temp, key.slice(TEMP_PREFIX.length), 'temp'];
    return [this.#chat, key, 'chat'];
  }

  #mark(kind: 'chat' | 'user' | 'temp', name: string, value: StateValue | undefined): void {
    if (kind === 'temp') return;
    this.#changed = true;
    if (kind === 'chat') {
      this.#chatChanged = true;
      return;
    }
    if (value === undefined) {
      delete this.#userSet[name];
      this.#userDeleted.add(name);
    } else {
      this.#userSet[name] = value;
      this.#userDeleted.delete(name);
    }
  }
}

/** Whether a value survives JSON unchanged (NaN, undefined, dates, class instances... do not). */
function sameAfterJson(value: StateValue, json: string): boolean {
  return isDeepStrictEqual(JSON.parse(json), value);
}

/**
 * The session state of the current run, for tools, dynamic instructions and guardrails of an
 * agent served by `createAgentRouter` (they get the SDK's run context as an argument).
 *
 * ```ts
 * import { tool } from '@openai/agents';
 * import { z } from 'zod';
 * import { sessionState } from 'express-agent-router';
 *
 * const setTheme = tool({
 *   name: 'set_theme',
 *   description: "Remembers the user's preferred theme, in all their chats.",
 *   parameters: z.object({ theme: z.enum(['light', 'dark']) }),
 *   execute: async ({ theme }, runContext) => {
 *     sessionState(runContext).set('user:theme', theme);
 *     return `Theme set to ${theme}.`;
 *   },
 * });
 * ```
 *
 * Throws `InvalidArgumentError` for a run the router did not start.
 */
export function sessionState(runContext: RunContext<unknown> | undefined): SessionState {
  const state = scopeOf(runContext)?.state;
  if (!state) {
    throw new InvalidArgumentError(
      'sessionState(runContext): this run was not started by createAgentRouter, so it has no session state. ' +
        'Pass the run context your tool, instructions or guardrail received, from an agent served by the router.',
    );
  }
  return state;
}
