#!/usr/bin/env bash
# Finds or starts PostgreSQL and Redis on 127.0.0.1 (5432, 6379):
# already running → used as is; Docker available → docker compose;
# otherwise local server binaries (a cluster under .data/ if none exists).
set -euo pipefail
cd "$(dirname "$0")/.."

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  echo "services: $2 did not come up on port $1" >&2; exit 1
}
have_docker() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

if ! port_open 5432; then
  if have_docker; then
    echo "services: starting PostgreSQL with docker compose"
    docker compose up -d postgres
  elif command -v pg_ctlcluster >/dev/null 2>&1 && ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "services: starting the local PostgreSQL cluster"
    v=$(ls /etc/postgresql | sort -V | tail -n1)
    pg_ctlcluster --skip-systemctl-redirect "$v" main start
  else
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
    [ -n "$bin" ] || bin=$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")
    if [ ! -x "$bin/initdb" ]; then
      echo "services: PostgreSQL is not running and neither Docker nor PostgreSQL binaries were found." >&2
      echo "          Install Docker or PostgreSQL 15+, or set LINKIT_DATABASE_URL to a reachable server." >&2
      exit 1
    fi
    echo "services: starting a private PostgreSQL in .data/postgres"
    mkdir -p .data
    if [ ! -f .data/postgres/PG_VERSION ]; then
      "$bin/initdb" -D .data/postgres -U postgres --auth=trust >/dev/null
    fi
    "$bin/pg_ctl" -D .data/postgres -o "-p 5432 -k /tmp -c listen_addresses=127.0.0.1 -c max_wal_size=8GB" -l .data/postgres.log start >/dev/null
  fi
  wait_port 5432 PostgreSQL
fi

if ! port_open 6379; then
  if have_docker; then
    echo "services: starting Redis with docker compose"
    docker compose up -d redis
  elif command -v redis-server >/dev/null 2>&1; then
    echo "services: starting a local Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null
  else
    echo "services: Redis is not running and neither Docker nor redis-server was found." >&2
    exit 1
  fi
  wait_port 6379 Redis
fi
