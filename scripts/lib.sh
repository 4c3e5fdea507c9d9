# Sourced by the scripts in this folder: puts uv in .tools/ (a fresh machine has only
# python3 and pip) and syncs the workspace into .venv with this machine's Python.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export UV_PYTHON_DOWNLOADS=never          # never fetch an interpreter: use the system one
export UV_CACHE_DIR="${UV_CACHE_DIR:-$ROOT/.cache/uv}"
export UV_PROJECT_ENVIRONMENT="$ROOT/.venv"
export UV_LINK_MODE=copy
# Precompile: with PYTHONDONTWRITEBYTECODE set (as on CI machines) every start would
# otherwise recompile pydantic & co. from source (pip precompiles by default too).
export UV_COMPILE_BYTECODE=1
PY="${ORCH_PYTHON:-python3}"

ensure_uv() {
  if [ ! -x "$ROOT/.tools/bin/uv" ]; then
    echo "==> installing uv into .tools/" >&2
    "$PY" -m venv "$ROOT/.tools"
    "$ROOT/.tools/bin/python" -m pip install --quiet --disable-pip-version-check "uv>=0.5,<1"
  fi
  UV="$ROOT/.tools/bin/uv"
}

# sync_env [extra uv sync args...]: the workspace's packages (+ the given groups) in .venv
sync_env() {
  ensure_uv
  echo "==> syncing .venv" >&2
  (cd "$ROOT" && "$UV" sync --quiet --all-packages --python "$PY" "$@")
}
