#!/usr/bin/env bash
# Starts PgBouncer in transaction pooling mode on 127.0.0.1:6432 in front of the PostgreSQL on
# 127.0.0.1:5432, as most production deployments run the library, for the suites that .ci/run
# runs through it. Usage: .ci/pgbouncer-setup.sh [WORK_DIR] (default .ci/work/pgbouncer), which
# gets the config, the log and the pid file. Idempotent: installs Debian's pgbouncer only when it
# is missing, and leaves alone a PgBouncer that already answers on 6432 in transaction mode.
# Needs root (apt-get, and running PgBouncer as the postgres user). Stop it with
# `psql postgres://postgres@127.0.0.1:6432/pgbouncer -c SHUTDOWN` (the console drops the link).
set -euo pipefail

port=6432
dir="$(mkdir -p "${1:-.ci/work/pgbouncer}" && cd "${1:-.ci/work/pgbouncer}" && pwd)"
admin="postgres://postgres@127.0.0.1:$port/pgbouncer"

pool_mode() { psql "$admin" -Atc 'SHOW CONFIG' 2>/dev/null | awk -F'|' '$1 == "pool_mode" { print $2 }'; }

if pg_isready -q -h 127.0.0.1 -p "$port"; then
  mode="$(pool_mode || true)"
  if [ "$mode" = transaction ]; then
    echo "PgBouncer already answers on 127.0.0.1:$port in transaction mode."
    exit 0
  fi
  echo "Port $port is taken by something that is not a PgBouncer in transaction mode (pool_mode: ${mode:-unknown})." >&2
  exit 1
fi

if ! command -v pgbouncer > /dev/null; then
  echo "Installing Debian's pgbouncer..."
  export DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes
  apt-get update -qq > /dev/null
  apt-get install -y -qq --no-install-recommends pgbouncer > /dev/null
fi

# Trust, like the server behind it. The suites connect as postgres and as one role per test
# database (test/helpers/database.ts); roles missing from the auth file are looked up through
# auth_user. node-postgres sends `options` when a pool sets it (the direct runs put search_path
# there), and some clients send extra_float_digits: ignored rather than refused, so a search_path
# sent that way is lost (the suites do not rely on it through the pooler).
# Pools per database and user: max_db_connections caps what the server sees (PgBouncer closes
# idle connections of other pools to stay under it) and idle ones close after 10 s, since the
# server's 100 connection slots are shared.
cat > "$dir/pgbouncer.ini" <<EOF
[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
auth_user = postgres
admin_users = postgres
pool_mode = transaction
ignore_startup_parameters = extra_float_digits,options
max_client_conn = 500
default_pool_size = 20
max_db_connections = 50
server_idle_timeout = 10
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
echo '"postgres" ""' > "$dir/userlist.txt"
chown -R postgres "$dir"

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# PgBouncer refuses to run as root, and runs as postgres, who may not reach a work dir inside a
# checkout under a private home: then the config goes to a directory of its own in /tmp.
if ! as_postgres test -r "$dir/pgbouncer.ini"; then
  fallback="$(mktemp -d /tmp/pgbouncer.XXXXXX)"
  echo "The postgres user cannot read $dir; using $fallback instead."
  sed "s#$dir/#$fallback/#g" "$dir/pgbouncer.ini" > "$fallback/pgbouncer.ini"
  cp "$dir/userlist.txt" "$fallback/"
  chmod 755 "$fallback"
  chown -R postgres "$fallback"
  dir="$fallback"
fi
as_postgres pgbouncer -d "$dir/pgbouncer.ini"

for _ in $(seq 1 30); do
  if [ "$(pool_mode || true)" = transaction ]; then
    echo "$(pgbouncer --version | head -n1) answers on 127.0.0.1:$port in transaction mode (config: $dir/pgbouncer.ini)."
    exit 0
  fi
  sleep 0.5
done
echo "PgBouncer did not start; its log ($dir/pgbouncer.log) ends with:" >&2
tail -n 20 "$dir/pgbouncer.log" >&2 || true
exit 1
