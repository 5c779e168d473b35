// A CommonJS script in a project without Express: the session-only entry point must load.
const { checkSession } = require('./session-check.cjs');

checkSession(require('express-agent-router/session'), `cjs-js-node${process.versions.node.split('.')[0]}`).catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
