#!/bin/bash
# Install what the sandbox, the tests and the demo need; quick when it is all there already.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v wrk >/dev/null || need_apt+=(wrk)
command -v unzip >/dev/null || need_apt+=(unzip)
# The nginx corpus has a Lua-block vhost; real nginx must load ngx_http_lua to test it.
[ -e /usr/share/nginx/modules-available/mod-http-lua.conf ] || [ -e /usr/lib/nginx/modules/ngx_http_lua_module.so ] || need_apt+=(libnginx-mod-http-lua)
fc-list 2>/dev/null | grep -qi 'wqy\|noto.*cjk' || need_apt+=(fonts-wqy-microhei)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: apt-get install ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Debian's nginx package starts the system nginx on port 80; the sandbox runs its own.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
fi

python3 -c "import pytest, hypothesis, jinja2, psutil, playwright, supervisor, mypy" 2>/dev/null \
    && command -v ruff >/dev/null && command -v vermin >/dev/null \
    || python3 -m pip install -q -r requirements-dev.txt

if [ ! -d tools/devpanel/node_modules/jquery ] || [ ! -d tools/devpanel/node_modules/layer-src ] || [ ! -d tools/devpanel/node_modules/echarts ]; then
    (cd tools/devpanel && npm ci --no-audit --no-fund --loglevel=error)
fi

# The panel's own interpreters: Python 3.7.16 (BaoTa 9-11) for the sandbox's panel, 3.12.1
# (aaPanel 8) for the tests that load the plugin the aaPanel way. pyenv builds them from
# python.org's source tarballs: without that download (these machines reach PyPI, Debian and
# npm only) the install fails, and the sandbox says loudly that it falls back to this Python.
if command -v pyenv >/dev/null; then
    for v in 3.7.16 3.12.1; do
        [ -x "$(pyenv root)/versions/$v/bin/python${v%.*}" ] && continue
        echo "setup: pyenv install $v (needs python.org)"
        pyenv install -s "$v" || echo "setup: *** pyenv install $v FAILED: the tests fall back to $(python3 --version) for it ***" >&2
    done
else
    echo "setup: *** no pyenv: the sandbox's panel Python falls back to $(python3 --version) ***" >&2
fi

# The wheel cache (uWSGI compiles from source once) and the shared test venvs.
python3 -m tests.sandbox.venvs >/dev/null
