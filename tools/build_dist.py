"""Build dist/gunicorn_switch.zip: one folder gunicorn_switch/ with what the panel needs, only.

Files are listed from git (so nothing untracked or ignored slips in) and filtered again:
no tests, caches or compiled files. Timestamps are fixed so that the zip is reproducible.
"""
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NAME = "gunicorn_switch"
ROOT_FILES = ["info.json", "install.sh", "icon.png"]
SKIP_PARTS = {"__pycache__", "tests", ".pytest_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo"}


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


def build(dest):
    dest.parent.mkdir(parents=True, exist_ok=True)
    entries = [(REPO / f, "%s/%s" % (NAME, f)) for f in ROOT_FILES] + plugin_files()
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for src, arc in entries:
            info = zipfile.ZipInfo(arc, date_time=(2026, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if arc.endswith(".sh") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, src.read_bytes())
    return dest


if __name__ == "__main__":
    out = build(REPO / "dist" / (NAME + ".zip"))
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
    print("%s: %d files" % (out.relative_to(REPO), len(names)))
    sys.exit(0)
