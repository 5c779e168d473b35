// An ESM script in a project without Express: the session-only entry point must load.
import * as session from 'express-agent-router/session';
import { checkSession } from './session-check.cjs';

try {
  import.meta.resolve('express');
  throw new Error('express is installed in the session-only consumer, so this check proves nothing');
} catch (error) {
  if (error.code !== 'ERR_MODULE_NOT_FOUND') throw error;
}
await checkSession(session, 'esm-js');
