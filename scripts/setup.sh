#!/usr/bin/env bash
# Idempotent set-up of everything gates runs for real: Debian's Chromium,
# PostgreSQL and HAProxy, the Python venv, and the pinned Supabase CLI.
# Each part is skipped when it is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
command -v git >/dev/null 2>&1 || missing+=(git)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} with apt-get"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
stamp=.venv/.installed
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PYTHON" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing gates (pytest-gates) into .venv"
  # A venv made when the distribution was still called `gates` keeps it installed beside pytest-gates:
  # two distributions registering one pytest plugin. Remove the old name first.
  if .venv/bin/python -m pip show -q gates >/dev/null 2>&1; then
    .venv/bin/python -m pip uninstall -q -y gates
  fi
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  touch "$stamp"
fi

if [ ! -x node_modules/.bin/supabase ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing the Supabase CLI (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
say "ready: $(.venv/bin/python --version), $(node_modules/.bin/supabase --version | head -1 | sed 's/^/supabase /'), $(haproxy -v 2>/dev/null | head -1 | cut -d' ' -f1-3)"
