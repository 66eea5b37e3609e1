#!/usr/bin/env bash
# Runs once, when the primary's data directory is initialised (docker-entrypoint-initdb.d). The image
# may source this file instead of executing it, so it sets no shell options and never calls exit.
#
# Creates the replication role, the hba entry that lets it connect for replication from other
# containers, and the physical replication slot the replica streams from (so the primary keeps the WAL
# the replica has not received yet).

echo "primary-init: creating replication role ${ES_REPLICATION_USER} and slot ${ES_REPLICATION_SLOT}"

# Values go in as psql variables (:"name" quotes an identifier, :'name' a literal), never spliced into SQL.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v role="$ES_REPLICATION_USER" -v password="$ES_REPLICATION_PASSWORD" -v slot="$ES_REPLICATION_SLOT" <<'SQL'
CREATE ROLE :"role" WITH REPLICATION LOGIN PASSWORD :'password';
SELECT pg_create_physical_replication_slot(:'slot');
SQL

# "all" in the database column does not cover replication connections: they need their own line.
echo "host replication ${ES_REPLICATION_USER} all scram-sha-256" >> "$PGDATA/pg_hba.conf"
