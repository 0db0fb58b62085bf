"""Build dist/gunicorn_switch.zip: one folder gunicorn_switch/ with what the panel needs, only.

Files are listed from git (so nothing untracked or ignored slips in) and filtered again:
no tests, caches or compiled files.

Three things here exist for upgrades inside a running panel (notes/baota-internals.md §11):
- Entries are dated at build time (or $SOURCE_DATE_EPOCH, for a reproducible build). The panel
  unzips and ``cp -a``s them, keeping the dates, and its loader re-executes the main file only
  when that file's mtime changes: a fixed date would hide every release after the first.
- The version from info.json is written where the page asks for its JS/CSS (``?v=``), so that a
  browser never runs last release's script against this release's backend.
- release-files.txt lists the release's files; install.sh removes what an older release left
  behind (the panel copies over the old folder and never deletes).
"""
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAME = "gunicorn_switch"
ROOT_FILES = ["info.json", "install.sh", "icon.png"]
SKIP_PARTS = {"__pycache__", "tests", ".pytest_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo"}
MANIFEST = "release-files.txt"
# The placeholder the page's files carry in a checkout; the dev panel serves them as they are.
VERSION_TOKEN = b"__GSWITCH_VERSION__"
# Only index.html: the page reads its release from there (data-version), and every file it
# loads carries it in its ?v=.
STAMPED = {"index.html"}


def plugin_files():
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "plugin"], cwd=REPO,
                         check=True, capture_output=True, text=True).stdout.split()
    files = []
    for rel in sorted(out):
        p = Path(rel)
        if SKIP_PARTS & set(p.parts) or p.suffix in SKIP_SUFFIXES or not (REPO / p).is_file():
            continue
        files.append((REPO / p, "%s/%s" % (NAME, Path(*p.parts[1:]))))
    return files


def build_time():
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    t = time.gmtime(int(epoch)) if epoch else time.localtime()
    return max(t[:6], (1980, 1, 1, 0, 0, 0))


def build(dest):
    dest.parent.mkdir(parents=True, exist_ok=True)
    version = json.loads((REPO / "info.json").read_text(encoding="utf-8"))["versions"]
    entries = [(REPO / f, "%s/%s" % (NAME, f)) for f in ROOT_FILES] + plugin_files()
    listed = sorted(arc.split("/", 1)[1] for _src, arc in entries) + [MANIFEST]
    when = build_time()
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        def add(arc, data, mode=0o644):
            info = zipfile.ZipInfo(arc, date_time=when)
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)

        for src, arc in entries:
            data = src.read_bytes()
            if arc.split("/", 1)[1] in STAMPED:
                data = data.replace(VERSION_TOKEN, version.encode())
            add(arc, data, 0o755 if arc.endswith(".sh") else 0o644)
        add("%s/%s" % (NAME, MANIFEST), ("\n".join(listed) + "\n").encode())
    return dest


if __name__ == "__main__":
    out = build(REPO / "dist" / (NAME + ".zip"))
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
    print("%s: %d files" % (out.relative_to(REPO), len(names)))
    sys.exit(0)
