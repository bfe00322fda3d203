# Shared set-up for scripts/demo and scripts/test: idempotent, so both commands work on a fresh
# clone and re-run in a second on a prepared one. Packages come from uv.lock (exact versions and
# hashes), installed by uv into .venv; `pip install -e ".[dev]"` still works for those who prefer it.
set -euo pipefail

PYTHON="${PYTHON:-python3}"
UV_VERSION=0.13.9
# uv from PyPI, in a small venv of its own, when the machine has no uv of this version.
UV_TOOLS_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/zoho-pipelines/uv-${UV_VERSION}"

ensure_uv() {
    if command -v uv >/dev/null && [ "$(uv --version | cut -d' ' -f2)" = "$UV_VERSION" ]; then
        UV=uv
        return 0
    fi
    UV="$UV_TOOLS_DIR/bin/uv"
    if [ ! -x "$UV" ]; then
        if ! "$PYTHON" -c "import ensurepip" 2>/dev/null; then
            echo "$PYTHON cannot create a venv: install Debian's python3-venv (or set PYTHON=...)." >&2
            return 1
        fi
        echo "installing uv ${UV_VERSION} from PyPI into ${UV_TOOLS_DIR}" >&2
        "$PYTHON" -m venv "$UV_TOOLS_DIR"
        "$UV_TOOLS_DIR/bin/python" -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}"
    fi
}

# .venv from the lock: `--frozen` installs exactly what uv.lock says without resolving again (CI
# checks that the lock matches pyproject.toml); `--inexact` keeps packages other commands added, so
# the demo after the tests does not uninstall the test tools. Arguments: extras, e.g. `--extra dev`.
_sync_venv() {
    ensure_uv
    if [ ! -x .venv/bin/python ]; then
        echo "setting up .venv from uv.lock (the first time only)" >&2
    fi
    "$UV" sync --frozen --inexact --quiet --python "$PYTHON" "$@"
}

# The runtime alone: what the demo and the Dagster UI need.
ensure_runtime_venv() {
    _sync_venv
}

# The runtime and the dev extra: what the test suite needs (documents, CDK, test tools), and the
# onboarding Lambdas' packages for their runtime, from uv.lock (cdk/zoho_infra/lambda_dependencies.py).
ensure_venv() {
    _sync_venv --extra dev
    .venv/bin/python cdk/zoho_infra/lambda_dependencies.py --uv "$UV"
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
