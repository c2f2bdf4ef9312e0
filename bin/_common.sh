# Shared by bin/run and bin/test: find a Python >= 3.11 and keep .venv in step with pyproject.toml.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${OBSERVATORY_VENV:-$ROOT/.venv}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

find_python() {
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  die "Python 3.11 or newer is needed (set PYTHON=/path/to/python3.11)"
}

# ensure_venv [EXTRAS]: create .venv once; reinstall only when pyproject.toml changes
# or the extras asked for are not installed yet (the dev extras include what run needs).
ensure_venv() {
  local extras="${1:-}" stamp hash target
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtualenv $VENV"
    "$(find_python)" -m venv "$VENV" || die "could not create a virtualenv (on Debian: apt-get install python3-venv)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
  fi
  stamp="$VENV/.observatory-installed"
  hash="$(sha256sum < "$ROOT/pyproject.toml" | cut -c1-16)"
  if [ -f "$stamp" ] && { grep -qx -- "$hash-$extras" "$stamp" || grep -qx -- "$hash-dev" "$stamp"; }; then
    return 0
  fi
  target="$ROOT"
  [ -z "$extras" ] || target="$ROOT[$extras]"
  say "installing dependencies${extras:+ ($extras)}"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$target" ||
    die "pip install failed (see above)"
  echo "$hash-$extras" > "$stamp"
}

# ensure_node_modules: `npm ci` when node_modules is missing or package-lock.json changed since the
# last install. The dashboards' charts (uPlot) are served from node_modules; without npm the pages
# still work and show their numbers tables, so a missing npm is a warning, not an error.
ensure_node_modules() {
  local stamp="$ROOT/node_modules/.observatory-lock" hash
  [ -f "$ROOT/package-lock.json" ] || return 0
  hash="$(sha256sum < "$ROOT/package-lock.json" | cut -c1-16)"
  [ -f "$stamp" ] && grep -qx -- "$hash" "$stamp" && return 0
  if ! command -v npm >/dev/null 2>&1; then
    say "npm not found: charts will fall back to tables (on Debian: apt-get install npm)"
    return 0
  fi
  say "installing front-end packages (npm ci)"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed (see above)"
  echo "$hash" > "$stamp"
}
