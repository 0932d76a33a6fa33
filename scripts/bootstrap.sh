#!/usr/bin/env bash
# Sets up everything the service and its tests need, idempotently: the virtualenv with the
# pinned Python packages, the pinned npm tools (buf), and a running local PostgreSQL when the
# machine has one installed. Cheap to re-run: each step is skipped when its inputs are unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [[ ! -f $stamp ]]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  rm -f .venv/.installed-* && touch "$stamp"
fi

if [[ -f package-lock.json ]]; then
  npm_stamp=node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)
  if [[ ! -f $npm_stamp ]]; then
    # npm ci installs exactly what the lock file says and never rewrites it. The lock file
    # lists buf's binary package for every platform, so it fits any machine unchanged.
    npm ci --no-audit --no-fund --loglevel=error
    touch "$npm_stamp"
  fi
fi

if [[ " $* " == *" --with-faketime "* ]] && ! command -v faketime >/dev/null; then
  # Debian's libfaketime, for the suite's run under a shifted clock.
  apt-get update -qq && apt-get install -y -qq faketime >/dev/null
fi

if [[ " $* " == *" --with-browser "* ]] && ! { command -v chromium >/dev/null && fc-list :lang=zh | grep -q .; }; then
  # Debian's Chromium for the gateway's browser tests (Playwright drives it; it downloads
  # no browser of its own), and a CJK font so that its pages render their Chinese.
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null
fi

if [[ " $* " == *" --with-postgres "* ]]; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if command -v pg_ctlcluster >/dev/null && ls /etc/postgresql >/dev/null 2>&1; then
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    fi
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi
