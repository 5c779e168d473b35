#!/usr/bin/env bash
# The package as a consumer sees it: pack it, check its contents and import graph, lint it the
# way package authors do (publint, attw), then install the tarball into three empty projects:
#   kysely-0.28      express 5 and kysely 0.28, no vitest: imports the main entry from ESM, CJS
#                    and TS, and plays a new user's first two scripts against a real database
#                    (the second process must see the first's history).
#   session-only     no express: imports express-agent-router/session from ESM and CJS, JS and
#                    TS, and runs a session against the real database.
#   kysely-0.29      express 5, kysely 0.29 and vitest 5: installs without ERESOLVE, runs the new
#                    user's scripts, both routers over HTTP, and the ChatStore contract suite
#                    from express-agent-router/testing.
# The CommonJS checks also run on Node 22.12.0, the oldest release `engines` allows, where
# require() of the ESM-only kysely 0.29 must work.
# Runs on the Node found on PATH (.ci/run puts a supported one first).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
base_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
database="consumer_$(date +%s)_$$"
cleanup() {
  psql "$base_url" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
started=$SECONDS
step() { echo "--- $* (at $((SECONDS - started)) s)"; }
cd "$root"
echo "package check on Node $(node -v)"

step "pack, contents and import graph"
npm pack --pack-destination "$work" --json > "$work/pack.json" 2>/dev/null
node .ci/check-pack.mjs "$work/pack.json"
tarball="$work/$(node -e 'console.log(require(process.argv[1])[0].filename)' "$work/pack.json")"

step "publint and attw, every entry point"
npx publint --strict "$tarball"
# Profile node16: the package needs Node 22, so TypeScript's legacy node10 resolution (which
# ignores `exports`, and cannot see subpath entries) is out of scope. /testing is ESM only, as
# vitest is, so it is checked without the require() resolution it deliberately lacks.
npx attw "$tarball" --profile node16 --exclude-entrypoints ./testing --format table-flipped
npx attw "$tarball" --profile esm-only --entrypoints ./testing --format table-flipped

step "Node 22.12.0 for the CommonJS checks"
npm install --prefix "$work/node22.12" --no-save --no-audit --no-fund --loglevel=error node@22.12.0 > /dev/null
node22_12="$work/node22.12/node_modules/.bin/node"
echo "using $("$node22_12" -v)"

psql "$base_url" -qc "CREATE DATABASE $database"
export DATABASE_URL="${base_url%/*}/$database"

# fixtures DIR: copies the files (not the folders) of DIR into the current project.
fixtures() { find "$1" -maxdepth 1 -type f -exec cp -t . {} +; }

# consumer NAME PACKAGE...: an empty project with the tarball and PACKAGE... installed.
consumer() {
  local name="$1"
  shift
  mkdir "$work/$name"
  cd "$work/$name"
  npm init -y > /dev/null
  npm install --no-audit --no-fund --loglevel=error "$tarball" "$@" > /dev/null 2> install.log || {
    cat install.log
    exit 1
  }
}

step "consumer kysely-0.28: main entry, ESM, CJS and TS, new-user scripts"
consumer kysely-0.28 @openai/agents@0.20.0 zod@4 kysely@0.28 pg@8 express@5 \
  typescript@5.9.3 @types/node@22 @types/pg @types/express
fixtures "$root/test/package"
node esm.mjs
node cjs.cjs
npx tsc --noEmit --strict --skipLibCheck --module nodenext --moduleResolution nodenext types.mts types.cts
echo "types ok (ESM and CJS resolution)"
SESSION_ID=new-user-chat-0.28 node first-run.mjs
SESSION_ID=new-user-chat-0.28 node second-run.mjs
echo "new-user scripts ok: a second process saw the first run's history"

step "consumer session-only: no express, express-agent-router/session from ESM and CJS, JS and TS"
consumer session-only @openai/agents@0.20.0 zod@4 kysely@0.29 pg@8 typescript@5.9.3 @types/node@22 @types/pg
if [ -e node_modules/express ]; then
  echo "express got installed into the session-only consumer." >&2
  exit 1
fi
fixtures "$root/test/package/session-only"
node session.mjs
node session.cjs
"$node22_12" session.cjs
# No skipLibCheck: the entry's declaration files are checked too, with no express types around.
npx tsc --strict --module nodenext --moduleResolution nodenext --target es2022 session-ts.mts session-ts.cts
node session-ts.mjs
node session-ts.cjs

step "consumer kysely-0.29: installs, new-user scripts, both routers, the /testing contract suite"
consumer kysely-0.29 @openai/agents@0.20.0 zod@4 kysely@0.29 pg@8 express@5 vitest@5 \
  typescript@5.9.3 @types/node@22 @types/pg @types/express
npm ls --depth=0 kysely express vitest | tail -n +2
fixtures "$root/test/package"
fixtures "$root/test/package/kysely-0.29"
node esm.mjs
node cjs.cjs
"$node22_12" cjs.cjs
npx tsc --noEmit --strict --skipLibCheck --module nodenext --moduleResolution nodenext types.mts types.cts
echo "types ok (ESM and CJS resolution)"
SESSION_ID=new-user-chat-0.29 node first-run.mjs
SESSION_ID=new-user-chat-0.29 node second-run.mjs
echo "new-user scripts ok: a second process saw the first run's history"
node router.mjs
npx vitest run --reporter=dot contract.test.mjs

step "done"
