// Imported from the packed tarball by .ci/package-check.sh, as an ESM consumer would.
import { PostgresSession, migrate, ConfigurationError, AgentRouterError } from 'express-agent-router';

for (const [name, value] of Object.entries({ PostgresSession, migrate, ConfigurationError })) {
  if (typeof value !== 'function') throw new Error(`ESM export ${name} is missing`);
}
if (!(new ConfigurationError('x') instanceof AgentRouterError)) throw new Error('error hierarchy broken');
console.log('esm ok');
