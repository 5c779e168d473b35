import express, { type Router } from 'express';
import { ConfigurationError } from '../errors.js';
import { errorMiddleware } from '../http/error-middleware.js';
import { consoleLogger } from '../http/logger.js';
import { methodNotAllowed } from '../http/method-not-allowed.js';
import { openApiDocument, type OpenApiDocumentOptions } from './open-api-document.js';

export interface OpenApiRouterOptions extends OpenApiDocumentOptions {
  /** Where the document is served. Defaults to `'/openapi.json'`. */
  path?: string;
}

/**
 * Serves the OpenAPI document of the routers you mount at `GET /openapi.json`. It is a router of
 * its own, since the document spans several routers (each agent's and the chat router) and only
 * the host knows which it mounts. The document is built once, here: a bad option throws at
 * start-up. Anyone who can reach the path can read it; put your auth middleware before it to
 * keep it private.
 *
 * ```ts
 * import express from 'express';
 * import { createOpenApiRouter } from 'express-agent-router';
 *
 * const app = express();
 * app.use(createOpenApiRouter({ agentPrefixes: ['/dnd', '/world'], chatRouter: true }));
 * ```
 */
export function createOpenApiRouter(options: OpenApiRouterOptions): Router {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigurationError(
      "createOpenApiRouter(options): options must be an object such as { agentPrefixes: ['/assistant'], chatRouter: true }.",
    );
  }
  const { path = '/openapi.json', ...documentOptions } = options;
  if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-]$/.test(path)) {
    throw new ConfigurationError(
      `createOpenApiRouter: path must be a path such as '/openapi.json', got ${JSON.stringify(path)}.`,
    );
  }
  const document = openApiDocument(documentOptions);
  const router = express.Router();
  router.get(path, (_req, res) => {
    res.json(document);
  });
  router.all(path, methodNotAllowed('GET'));
  router.use(errorMiddleware(consoleLogger));
  return router;
}
