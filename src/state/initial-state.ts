import type { Request } from 'express';
import { z } from 'zod';
import { ConfigurationError } from '../errors.js';
import { MAX_STATE_BYTES } from './session-state.js';

/** The routers' `initialState` option: the state a new chat starts with. */
export type InitialState = Record<string, unknown> | ((req: Request) => Record<string, unknown> | Promise<Record<string, unknown>>);

export const initialStateOption = z.custom<InitialState>(
  (value) => typeof value === 'function' || (value !== null && typeof value === 'object' && !Array.isArray(value)),
  'must be an object, or a function (req) => object',
);

/** The state a chat created for this request starts with. */
export async function resolveInitialState(option: InitialState | undefined, req: Request): Promise<Record<string, unknown>> {
  if (option === undefined) return {};
  const state = typeof option === 'function' ? await option(req) : option;
  if (state === null || typeof state !== 'object' || Array.isArray(state) || Buffer.byteLength(JSON.stringify(state)) > MAX_STATE_BYTES) {
    throw new ConfigurationError(`initialState must give a JSON object of at most ${MAX_STATE_BYTES} bytes.`);
  }
  return state;
}
