#!/usr/bin/env bash
# make run: services up, build, migrate, a demo organization and key, then
# the API and workers in one process; the banner once it answers.
# cmd/linkit/docs_test.go starts the service the same way: keep the two in step.
set -euo pipefail
cd "$(dirname "$0")/.."

export LINKIT_HTTP_ADDR="${LINKIT_HTTP_ADDR:-:8080}"
port=${LINKIT_HTTP_ADDR##*:}
host=${LINKIT_HTTP_ADDR%:*}
case "$host" in "" | 0.0.0.0 | "[::]") host=127.0.0.1 ;; esac
base="http://localhost:${port}"

# Before building anything: a taken port would only fail after the banner.
if (exec 3<>"/dev/tcp/${host}/${port}") 2>/dev/null; then
  echo "make run: ${host}:${port} is already taken (another make run?)." >&2
  echo "          Stop what listens there, or use another address: LINKIT_HTTP_ADDR=:$((port + 1)) make run" >&2
  exit 1
fi

scripts/services.sh

if [ -z "${LINKIT_DATABASE_URL:-}" ]; then
  # Trust-auth servers accept the OS user when it has a role; else postgres.
  user=postgres
  if command -v psql >/dev/null 2>&1 && psql -h 127.0.0.1 -U "$(id -un)" -d postgres -Atc 'select 1' >/dev/null 2>&1; then
    user=$(id -un)
  fi
  export LINKIT_DATABASE_URL="postgres://${user}@127.0.0.1:5432/linkit?sslmode=disable"
fi
export LINKIT_REDIS_URL="${LINKIT_REDIS_URL:-redis://127.0.0.1:6379/0}"
mkdir -p .data
if [ -z "${LINKIT_ADMIN_TOKEN:-}" ]; then
  [ -f .data/admin-token ] || head -c 18 /dev/urandom | base64 | tr -d '/+=' > .data/admin-token
  LINKIT_ADMIN_TOKEN=$(cat .data/admin-token)
  export LINKIT_ADMIN_TOKEN
fi

go build -o bin/linkit ./cmd/linkit
bin/linkit migrate

# The demo key lives in .data/demo-key and is reused while it works: a new one
# on every run would leave the last one's shell exports stale.
key_file=.data/demo-key
save_key() { sed -n 's/.*"api_key":"\([^"]*\)".*/\1/p' > "$key_file"; }
if out=$(bin/linkit org create --name "Demo Store" --id org_demo --region US --json 2>/dev/null); then
  printf '%s' "$out" | save_key # a new database: a saved key belonged to another one
  checked=1
elif [ ! -s "$key_file" ]; then
  bin/linkit key create --org org_demo --json | save_key
  checked=1
fi

bin/linkit all &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true; wait "$pid"; exit' INT TERM

if command -v curl >/dev/null 2>&1; then
  up() { curl -sf -o /dev/null "http://${host}:${port}/healthz"; }
else
  up() { (exec 3<>"/dev/tcp/${host}/${port}") 2>/dev/null; }
fi
for _ in $(seq 1 120); do
  up && break
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" # it said why on stderr; exit with its status
    exit 1
  fi
  sleep 0.5
done
up || { echo "make run: the service did not answer on ${host}:${port} within 60 s" >&2; kill -TERM "$pid"; wait "$pid"; exit 1; }

if [ -z "${checked:-}" ] && command -v curl >/dev/null 2>&1; then
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat "$key_file")" \
    "http://${host}:${port}/api/v1/customers?limit=1")
  if [ "$status" = 401 ]; then # revoked, or made for another database
    bin/linkit key create --org org_demo --json | save_key
  fi
fi
key=$(cat "$key_file")

# The README shows this banner; its runnable copy of "Try it" must match (TestDocsBanner).
cat <<MSG

  Linkit Customers is running on ${base}
  Demo organization: org_demo (phone region US)

    export LINKIT_API_KEY=${key}
    export LINKIT_ADMIN_TOKEN=${LINKIT_ADMIN_TOKEN}

  Try it:
    curl -s -X POST ${base}/api/v1/customers \\
      -H "Authorization: Bearer \$LINKIT_API_KEY" -H "Content-Type: application/json" \\
      -d '{"first_name":"Sarah","last_name":"Smith","email":"sarah@example.com","phone":"+966509876543"}'
    curl -s "${base}/api/v1/customers/lookup?email=sarah@example.com" \\
      -H "Authorization: Bearer \$LINKIT_API_KEY"

  The API tour: docs/api.md. Stop with Ctrl-C.

MSG
wait "$pid"
