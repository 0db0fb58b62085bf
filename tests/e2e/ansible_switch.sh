#!/bin/sh
# What an Ansible task does with the command line:
#   - command: gunicorn-switch switch SITE --yes --json
#     register: r
#     changed_when: (r.stdout | from_json).changed
# run twice over a non-interactive stdin: the first run must report a change, the second
# none, both exiting 0. Usage: ansible_switch.sh SITE CLI [CLI ARGS...]
site="$1"
shift

run() {
    out=$("$@" switch "$site" --yes --json </dev/null) || { echo "exit $? on: $out"; return 1; }
    printf '%s' "$out" | python3 -c 'import json, sys; print(str(json.load(sys.stdin)["changed"]).lower())'
}

first=$(run "$@") || { echo "first run failed: $first"; exit 1; }
echo "changed: $first"
second=$(run "$@") || { echo "second run failed: $second"; exit 1; }
echo "changed: $second"
[ "$first" = "true" ] && [ "$second" = "false" ]
