import type { NextFunction, Request, RequestHandler, Response } from 'express';

/**
 * Express 5 forwards a rejected promise to the error middleware by itself; Express 4 does not,
 * and the request would hang. Every async handler of the library goes through this.
 */
export function asyncHandler(
  handler: (req: Request, res: Response, next: NextFunction) => Promise<unknown>,
): RequestHandler {
  return (req, res, next) => {
    handler(req, res, next).catch(next);
  };
}
