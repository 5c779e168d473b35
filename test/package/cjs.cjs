// Required from the packed tarball by .ci/package-check.sh, as a CommonJS consumer would.
const { PostgresSession, migrate, ConfigurationError } = require('express-agent-router');

for (const [name, value] of Object.entries({ PostgresSession, migrate, ConfigurationError })) {
  if (typeof value !== 'function') throw new Error(`CJS export ${name} is missing`);
}
console.log('cjs ok');
