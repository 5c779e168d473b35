import express, { type RequestHandler } from 'express';
import { InvalidRequestError } from '../errors.js';

/**
 * Parses a JSON body unless the host's own `express.json()` already did, so the routers work
 * with and without it. A body that is present but not JSON is refused with a 400 rather than
 * being treated as empty; the size limit answers 413 (see the error middleware).
 */
export function jsonBody(limit: string | number): RequestHandler {
  // The same types the check below accepts: JSON and its +json variants (merge-patch+json...).
  const parse = express.json({ limit, type: ['application/json', 'application/*+json'] });
  return (req, res, next) => {
    // body-parser marks a request it has read; reading the stream twice would hang.
    if ((req as { _body?: boolean })._body) return next();
    if (!hasBody(req.headers)) return next();
    if (!req.is(['json', '+json'])) {
      return next(new InvalidRequestError('The request body must be JSON (Content-Type: application/json).'));
    }
    parse(req, res, next);
  };
}

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] ?? '0') !== '0';
}
