#!/usr/bin/env bash
# mypy on python/fastinit (settings: [tool.mypy] in pyproject.toml), with the _core.pyi stubs.
# Called by .ci/run inside its virtual environment (numpy and the package installed).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q "mypy>=1.10"
echo "== mypy $(python -m mypy --version | cut -d' ' -f2)"
python -m mypy
