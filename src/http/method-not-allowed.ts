import type { RequestHandler } from 'express';
import { EndpointNotFoundError, MethodNotAllowedError } from '../errors.js';

/**
 * For a path the router serves, any other method answers 405 with the JSON envelope (rather than
 * falling through to the host's HTML 404). OPTIONS passes through, for the host's CORS handling.
 */
export function methodNotAllowed(...allowed: string[]): RequestHandler {
  return (req, _res, next) => {
    if (req.method === 'OPTIONS') return next();
    next(new MethodNotAllowedError(req.method, allowed));
  };
}

/**
 * Anything else under a path the router owns (`/chats/...`, `{prefix}/...`), such as an empty id
 * (`/chats//items`), answers 404 in the JSON envelope rather than the host's HTML page.
 */
export function endpointNotFound(): RequestHandler {
  return (req, _res, next) => {
    if (req.method === 'OPTIONS') return next();
    next(new EndpointNotFoundError(req.path));
  };
}

/** A regular expression for `prefix` and every path below it, as Express matches paths. */
export function under(prefix: string): RegExp {
  return new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/.*`, 'i');
}
