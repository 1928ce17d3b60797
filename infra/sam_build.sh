#!/usr/bin/env bash
# Build the SAM application (layer + functions) into .aws-sam/ without a container.
#
# aws-sam-cli pins exact boto3/pydantic versions, so it lives in its own tools venv
# (.venv-tools), never in the project's runtime environment. `sam build` runs pip with the
# runtime's Python, so python3.13 (pyenv's, here) must be first on PATH.
# Usage: infra/sam_build.sh [extra `sam build` arguments]
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

tools_venv="${CME_TOOLS_VENV:-$repo_root/.venv-tools}"

find_python313() {
    local candidate
    if command -v pyenv >/dev/null 2>&1; then
        for candidate in "$(pyenv root)"/versions/3.13*/bin; do
            if [[ -x "$candidate/python3.13" ]]; then
                echo "$candidate"
                return 0
            fi
        done
    fi
    for candidate in "$HOME"/.pyenv/versions/3.13*/bin /usr/local/bin /usr/bin; do
        if [[ -x "$candidate/python3.13" ]]; then
            echo "$candidate"
            return 0
        fi
    done
    candidate="$(command -v python3.13 2>/dev/null || true)"
    if [[ -n "$candidate" ]]; then
        # A pyenv shim resolves through `pyenv which`; give sam the real interpreter's directory.
        if [[ "$candidate" == */shims/* ]] && command -v pyenv >/dev/null 2>&1; then
            candidate="$(pyenv which python3.13 2>/dev/null || echo "$candidate")"
        fi
        dirname "$candidate"
        return 0
    fi
    return 1
}

if ! py313_bin="$(find_python313)"; then
    echo "sam_build: python3.13 not found (the Lambda runtime is python3.13)." >&2
    echo "  Install it, e.g. 'pyenv install 3.13', or put a python3.13 on PATH." >&2
    exit 1
fi

if [[ ! -x "$tools_venv/bin/sam" ]]; then
    echo "sam_build: creating tools venv $tools_venv with aws-sam-cli" >&2
    "$py313_bin/python3.13" -m venv "$tools_venv"
    "$tools_venv/bin/python" -m pip install --quiet --upgrade pip
    "$tools_venv/bin/python" -m pip install --quiet aws-sam-cli
fi

export PATH="$py313_bin:$PATH"
export SAM_CLI_TELEMETRY=0
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

exec "$tools_venv/bin/sam" build --template-file template.yaml "$@"
