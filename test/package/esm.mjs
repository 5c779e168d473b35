// Imported from the packed tarball by .ci/package-check.sh, as an ESM consumer would.
import { PostgresSession, migrate, ConfigurationError, AgentRouterError, InvalidArgumentError } from 'express-agent-router';
import * as session from 'express-agent-router/session';

for (const [name, value] of Object.entries({ PostgresSession, migrate, ConfigurationError })) {
  if (typeof value !== 'function') throw new Error(`ESM export ${name} is missing`);
}
if (!(new ConfigurationError('x') instanceof AgentRouterError)) throw new Error('error hierarchy broken');
// The session-only entry exports the main entry's own classes, not copies.
const same = { PostgresSession, migrate, AgentRouterError, InvalidArgumentError };
for (const [name, value] of Object.entries(same)) {
  if (session[name] !== value) throw new Error(`ESM: ${name} of /session is not the main entry's`);
}
console.log('esm ok');
