#!/usr/bin/env bash
# Create (once) a throw-away virtualenv outside the repository holding the VortexPY reference.
# Usage: scripts/bench/setup_vortexpy_venv.sh   -> venv at ${VPY_VENV:-/tmp/vpy-venv}
# VortexPY 6.2.2 only imports on Python 3.11 with two extra pins: service_identity (needed by
# twisted.internet.ssl, imported through txhttputil, but declared by nobody) and twisted 25.5.0
# (txhttputil imports a private Twisted function removed in 26.4).
set -euo pipefail
VPY_VENV="${VPY_VENV:-/tmp/vpy-venv}"
VPY_VERSION="${VPY_VERSION:-6.2.2}"
PYTHON="${PYTHON:-python3}"

if "$VPY_VENV/bin/python" -c "import vortex.Payload" >/dev/null 2>&1; then
    exit 0
fi
if [ ! -x "$VPY_VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VPY_VENV"
fi
"$VPY_VENV/bin/pip" install --quiet --upgrade pip
"$VPY_VENV/bin/pip" install --quiet "vortexpy==${VPY_VERSION}" service_identity "twisted==25.5.0"
"$VPY_VENV/bin/python" -c "import vortex.Payload" >/dev/null
echo "VortexPY venv ready: $VPY_VENV" >&2
