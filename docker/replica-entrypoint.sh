#!/usr/bin/env bash
# The replica's entrypoint. On first start (empty data directory) it clones the primary with
# pg_basebackup -R, which writes standby.signal and primary_conninfo (postgresql.auto.conf): the way
# a standby is configured since PostgreSQL 12 (recovery.conf is gone). Then it runs postgres, which
# starts as a hot standby streaming from the primary through the replication slot.
set -euo pipefail

PGDATA="${PGDATA:-/var/lib/postgresql/data}"

# Started as root: hand the data directory to postgres and run the rest as postgres.
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA"
  chown -R postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  exec gosu postgres bash "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "replica: waiting for the primary at ${ES_PRIMARY_HOST}"
  until pg_isready -q -h "$ES_PRIMARY_HOST" -p 5432; do sleep 1; done
  echo "replica: cloning the primary with pg_basebackup -R (slot ${ES_REPLICATION_SLOT})"
  # pg_basebackup reads the password from PGPASSWORD; -R copies the connection settings, this password
  # included, into primary_conninfo in the replica's postgresql.auto.conf.
  PGPASSWORD="$ES_REPLICATION_PASSWORD" pg_basebackup \
    --pgdata="$PGDATA" \
    --host="$ES_PRIMARY_HOST" --port=5432 \
    --username="$ES_REPLICATION_USER" \
    --slot="$ES_REPLICATION_SLOT" \
    --wal-method=stream \
    --checkpoint=fast \
    --write-recovery-conf
  echo "replica: base backup done; starting as a hot standby"
fi

exec postgres "$@"
