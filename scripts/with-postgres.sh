#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL server; the suite then runs on SQLite and PostgreSQL.
# Usage: scripts/with-postgres.sh COMMAND [ARGS...]
set -euo pipefail

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PGBIN" ]; then
  echo "PostgreSQL is not installed (apt-get install postgresql, or run scripts/system-deps.sh)." >&2
  exit 1
fi
PGPORT=${PGPORT:-$(python3 -c "import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])")}
PGTMP=$(mktemp -d /tmp/screening-pg.XXXXXX)
chmod 755 "$PGTMP"

if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$PGTMP"
  as_pg=(runuser -u postgres --)
else
  as_pg=()
fi

stop() {
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PGTMP"
}
trap stop EXIT

"${as_pg[@]}" "$PGBIN/initdb" -D "$PGTMP/data" -U app --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w -t 60 start \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGTMP -c fsync=off" >/dev/null
"${as_pg[@]}" "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U app screening_test

export SCREENING_TEST_POSTGRES_URL="postgresql+psycopg://app@127.0.0.1:$PGPORT/screening_test"
"$@"
