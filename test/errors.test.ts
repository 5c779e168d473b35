import { expect, it } from 'vitest';
import * as errors from '../src/errors.js';
import * as api from '../src/index.js';

it('exports every error class of the library from the package entry point', () => {
  for (const [name, value] of Object.entries(errors)) {
    expect((api as Record<string, unknown>)[name], name).toBe(value);
  }
});

it('gives every error its class name, an HTTP status and a snake_case code', () => {
  const samples = [
    new errors.ConfigurationError('x'),
    new errors.InvalidRequestError('x'),
    new errors.SessionBusyError(null),
    new errors.ChatDeletedError(),
    new errors.ChatNotFoundError(),
    new errors.MethodNotAllowedError('PATCH', ['GET']),
    new errors.DatabaseUnavailableError(),
  ];
  for (const error of samples) {
    expect(error).toBeInstanceOf(errors.AgentRouterError);
    expect(error.name).toBe(error.constructor.name);
    expect(error.status).toBeGreaterThanOrEqual(400);
    expect(error.code).toMatch(/^[a-z]+(_[a-z]+)*$/);
  }
});
