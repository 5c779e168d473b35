// Required from the packed tarball by .ci/package-check.sh, as a CommonJS consumer would.
const main = require('express-agent-router');
const session = require('express-agent-router/session');

for (const name of ['PostgresSession', 'migrate', 'ConfigurationError']) {
  if (typeof main[name] !== 'function') throw new Error(`CJS export ${name} is missing`);
}
// The session-only entry exports the main entry's own classes, not copies.
for (const name of ['PostgresSession', 'migrate', 'AgentRouterError', 'InvalidArgumentError']) {
  if (session[name] !== main[name]) throw new Error(`CJS: ${name} of /session is not the main entry's`);
}
console.log(`cjs ok on Node ${process.versions.node}`);
