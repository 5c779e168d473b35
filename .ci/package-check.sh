#!/usr/bin/env bash
# The package as a consumer sees it: pack it, check its contents, install the tarball into an
# empty project, import it from ESM and CJS, type-check it from TS, then play a new user's first
# two scripts against a real PostgreSQL database (the second process must see the first's history).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$root"

npm pack --pack-destination "$work" --json > "$work/pack.json" 2>/dev/null
node .ci/check-pack.mjs "$work/pack.json"
tarball="$(node -e 'console.log(require(process.argv[1])[0].filename)' "$work/pack.json")"

mkdir "$work/consumer"
cd "$work/consumer"
npm init -y > /dev/null
npm install --no-audit --no-fund --loglevel=error "$work/$tarball" \
  @openai/agents@0.20.0 zod@4 kysely@0.28 pg@8 express@5 \
  typescript@5.9.3 @types/node@20 @types/pg @types/express > /dev/null 2> install.log || { cat install.log; exit 1; }
cp "$root"/test/package/* .

node esm.mjs
node cjs.cjs
npx tsc --noEmit --strict --skipLibCheck --module nodenext --moduleResolution nodenext types.mts types.cts
echo "types ok (ESM and CJS resolution)"

base_url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
database="consumer_$(date +%s)_$$"
psql "$base_url" -qc "CREATE DATABASE $database"
trap 'psql "$base_url" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" >/dev/null; rm -rf "$work"' EXIT
export DATABASE_URL="${base_url%/*}/$database"
export SESSION_ID="new-user-chat"
node first-run.mjs
node second-run.mjs
echo "new-user scripts ok: a second process saw the first run's history"
