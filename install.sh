#!/bin/bash
# gunicorn_switch installer, run by the panel as root: `bash install.sh install|uninstall`.
# The panel prepends its own Python (/www/server/panel/pyenv/bin) to this PATH line.
PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/local/bin:/usr/local/sbin:~/bin
export PATH

# GUNICORN_SWITCH_ROOT is unset on a server; the sandbox sets it to its prefix.
ROOT="${GUNICORN_SWITCH_ROOT:-/}"
ROOT="${ROOT%/}"
PANEL="$ROOT/www/server/panel"
PLUGIN_DIR="$PANEL/plugin/gunicorn_switch"
STATE="$PANEL/data/gunicorn_switch"

# What an older release left behind: the panel copies a new release over the old folder and
# never deletes, and a stale module or package could shadow the new one. release-files.txt
# (written by tools/build_dist.py) lists this release; a checkout has none and is left alone.
Prune() {
    local manifest="$PLUGIN_DIR/release-files.txt" rel
    [ -f "$manifest" ] || return 0
    (
        cd "$PLUGIN_DIR" || exit 0
        find gunicorn_switch_core static -name __pycache__ -prune -exec rm -rf {} + 2>/dev/null
        find gunicorn_switch_core static -type f 2>/dev/null
        find . -maxdepth 1 -type f -name '*.py' -printf '%P\n'
    ) | while IFS= read -r rel; do
        [ -n "$rel" ] || continue
        grep -qxF -- "$rel" "$manifest" && continue
        rm -f -- "$PLUGIN_DIR/$rel" && echo "gunicorn_switch: removed $rel (not in this release)"
    done
    find "$PLUGIN_DIR/gunicorn_switch_core" "$PLUGIN_DIR/static" -mindepth 1 -depth -type d \
        -empty -delete 2>/dev/null
    return 0
}

Install() {
    Prune
    # State lives outside the plugin folder so that an upgrade (re-import) keeps the journal,
    # the backups and the list of switched sites. Private: it holds copies of site configs.
    mkdir -p "$STATE/logs" "$STATE/tasks" "$STATE/sites" "$STATE/backups" "$STATE/run"
    chmod 700 "$STATE" "$STATE"/*
    # The panel chmods the plugin 600; directories must stay traversable for root's imports.
    find "$PLUGIN_DIR" -type d -exec chmod 700 {} +
    PY="$PANEL/pyenv/bin/python3"
    [ -x "$PY" ] || PY=python3
    if ! "$PY" -c "import psutil, jinja2" >/dev/null 2>&1; then
        echo "gunicorn_switch: the panel's Python lacks psutil or jinja2" >&2
    fi
    # The panel's loader re-executes the main file only when its mtime changes; the zip's
    # dates may not move it (a rebuilt or re-imported release): make sure this one is loaded.
    touch "$PLUGIN_DIR/gunicorn_switch_main.py"
    echo "gunicorn_switch installed"
}

Uninstall() {
    # Sites keep running as they are. What the plugin made outside its folder goes, except
    # the records and backups of sites it switched: without them a rollback is impossible.
    if [ -d "$STATE/sites" ] && ls "$STATE/sites"/*.json >/dev/null 2>&1; then
        rm -rf "$STATE/logs" "$STATE/tasks" "$STATE/run"
        echo "gunicorn_switch: kept $STATE/sites and $STATE/backups (sites switched by the plugin)"
    else
        rm -rf "$STATE"
    fi
    echo "gunicorn_switch uninstalled"
}

# --- the gunicorn-switch command (issue 18): a wrapper on the PATH, ours alone to remove ---
CLI_BIN="$ROOT/usr/local/bin/gunicorn-switch"
CLI_MARK="# gunicorn_switch command line wrapper"

InstallCli() {
    mkdir -p "$(dirname "$CLI_BIN")"
    if [ -e "$CLI_BIN" ] && ! grep -q "$CLI_MARK" "$CLI_BIN" 2>/dev/null; then
        echo "gunicorn_switch: $CLI_BIN exists and is not ours; left alone" >&2
        return
    fi
    # The panel's Python has psutil/jinja2; PYTHONPATH rather than cd keeps relative paths
    # (nginx FILE, export --out DIR) relative to where the user is.
    {
        echo '#!/bin/sh'
        echo "$CLI_MARK (installed by the plugin, removed by its uninstall)"
        [ -n "$ROOT" ] && echo ": \"\${GUNICORN_SWITCH_ROOT:=$ROOT}\"; export GUNICORN_SWITCH_ROOT"
        echo "PY='$PANEL/pyenv/bin/python3'"
        echo '[ -x "$PY" ] || PY=python3'
        echo "PYTHONPATH='$PLUGIN_DIR'\${PYTHONPATH:+:\$PYTHONPATH} GUNICORN_SWITCH_PROG=gunicorn-switch exec \"\$PY\" -m gunicorn_switch_core \"\$@\""
    } > "$CLI_BIN.tmp" && chmod 755 "$CLI_BIN.tmp" && mv -f "$CLI_BIN.tmp" "$CLI_BIN"
}

UninstallCli() {
    if [ -f "$CLI_BIN" ] && grep -q "$CLI_MARK" "$CLI_BIN" 2>/dev/null; then
        rm -f "$CLI_BIN"
    fi
}
# --- end of the gunicorn-switch command ---

if [ "${1}" == 'install' ]; then
    Install
    InstallCli
elif [ "${1}" == 'uninstall' ]; then
    Uninstall
    UninstallCli
else
    echo "Usage: bash install.sh install|uninstall"
    exit 1
fi
