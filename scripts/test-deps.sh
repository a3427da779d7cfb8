#!/usr/bin/env bash
# Installs the tools the tests use besides Go: the docs test (cmd/linkit/docs_test.go)
# runs the documents' commands, which need bash, curl and jq; the multi-process and
# chaos tests (cmd/linkit/multiproc_test.go, chaos_test.go) run pgbouncer and
# redis-server (as master, replica and Sentinels) of their own; the web app's browser
# tests (webapp/) drive Debian's headless chromium.
set -euo pipefail

missing=()
for tool in curl jq; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
# Debian puts pgbouncer in /usr/sbin, which a user's PATH may lack.
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ -z "${LINKIT_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
  && ! command -v google-chrome >/dev/null 2>&1; then
  missing+=(chromium)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: ${missing[*]} missing and no apt-get here: install them with your package manager" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "test-deps: installing ${missing[*]}"
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
