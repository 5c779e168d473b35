import type { RequestHandler } from 'express';
import { MethodNotAllowedError } from '../errors.js';

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
