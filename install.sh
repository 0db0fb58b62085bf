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

Install() {
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

if [ "${1}" == 'install' ]; then
    Install
elif [ "${1}" == 'uninstall' ]; then
    Uninstall
else
    echo "Usage: bash install.sh install|uninstall"
    exit 1
fi
