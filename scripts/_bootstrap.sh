# Shared set-up for scripts/demo and scripts/test: idempotent, so both commands work on a fresh
# clone and re-run in seconds on a prepared one.
set -euo pipefail

PYTHON="${PYTHON:-python3}"

ensure_venv() {
    if [ ! -x .venv/bin/python ]; then
        "$PYTHON" -m venv .venv
    fi
    # Re-install only when the project's dependencies changed since the last install.
    local stamp=.venv/.zoho-pipelines-installed
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet -e ".[dev]"
        touch "$stamp"
    fi
}

# The warehouse tests run a real PostgreSQL server; its binaries come from Debian's packages.
ensure_postgresql() {
    if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
        return 0
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null; then sudo="sudo"; else
            echo "PostgreSQL is needed for the tests: install the 'postgresql' package (as root)." >&2
            return 1
        fi
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    # Debian starts a cluster on install; the tests run their own on a free port, so stop it.
    $sudo service postgresql stop >/dev/null 2>&1 || true
}
