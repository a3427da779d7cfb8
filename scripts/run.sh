#!/usr/bin/env bash
# make run: services up, build, migrate, a demo organization and key, then
# the API and workers in one process.
set -euo pipefail
cd "$(dirname "$0")/.."
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
export LINKIT_HTTP_ADDR="${LINKIT_HTTP_ADDR:-:8080}"
mkdir -p .data
if [ -z "${LINKIT_ADMIN_TOKEN:-}" ]; then
  [ -f .data/admin-token ] || head -c 18 /dev/urandom | base64 | tr -d '/+=' > .data/admin-token
  LINKIT_ADMIN_TOKEN=$(cat .data/admin-token)
  export LINKIT_ADMIN_TOKEN
fi

go build -o bin/linkit ./cmd/linkit
bin/linkit migrate
if ! out=$(bin/linkit org create --name "Demo Store" --id org_demo --region US --json 2>/dev/null); then
  out=$(bin/linkit key create --org org_demo --json)
fi
key=$(printf '%s' "$out" | sed -n 's/.*"api_key":"\([^"]*\)".*/\1/p')
port=${LINKIT_HTTP_ADDR##*:}

cat <<MSG

  Linkit Customers is starting on http://localhost:${port}
  Demo organization: org_demo    API key: ${key}
  Admin token (dashboard, metrics): ${LINKIT_ADMIN_TOKEN}

  Try it:
    curl -s -X POST http://localhost:${port}/api/v1/customers \\
      -H "Authorization: Bearer ${key}" -H "Content-Type: application/json" \\
      -d '{"first_name":"Sarah","last_name":"Smith","email":"sarah@example.com","phone":"+966509876543"}'
    curl -s "http://localhost:${port}/api/v1/customers/lookup?email=sarah@example.com" \\
      -H "Authorization: Bearer ${key}"

MSG
exec bin/linkit all
