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

/** A path the router recognises as its own but cannot serve answers 404 in the JSON envelope. */
export function endpointNotFound(): RequestHandler {
  return (req, _res, next) => {
    if (req.method === 'OPTIONS') return next();
    next(new EndpointNotFoundError(req.path));
  };
}

/**
 * Paths under `base` with an empty segment (`/chats//items`, `/chats/x/runs//stream`): an id the
 * client left out. No route matches them, so without this they would reach the host's HTML 404.
 */
export function emptySegmentUnder(base: string): RegExp {
  const escaped = base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped}/(?:.*/)?/`, 'i');
}
