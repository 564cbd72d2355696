#!/usr/bin/env sh
# Installs moto, the local AWS `greenlight simulate` runs against, into lib/greenlight/moto of this
# release archive (a Python virtualenv with moto at greenlight's pins). Needs Python 3.10 or later
# and access to PyPI; run once after unpacking.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
venv="$root/lib/greenlight/moto"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "install-moto: $python is not on the PATH; install Python 3 or set PYTHON" >&2
  exit 1
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r "$root/lib/greenlight/requirements-moto.txt"
echo "moto installed in $venv; greenlight simulate uses it"
