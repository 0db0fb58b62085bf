"""The panel's 导入插件, as class/panelPlugin.py update_zip/input_zip do it (notes §5, §11).

Unzip into panel/temp, find the folder holding info.json and install.sh, ``cp -a`` it over
plugin/<name> (an upgrade keeps whatever the old release had and this one has not),
``chmod -R 600``, then ``bash install.sh install`` with the panel's Python first on PATH.
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

# The PATH line of install.sh after the panel has prepended its own Python (__set_pyenv).
PANEL_PATH = "{pyenv}:/bin:/sbin:/usr/bin:/usr/sbin:/usr/local/bin:/usr/local/sbin"


def install_env(sandbox):
    return {"PATH": PANEL_PATH.format(pyenv=sandbox.p("/www/server/panel/pyenv/bin")),
            "GUNICORN_SWITCH_ROOT": str(sandbox.root), "HOME": "/root"}


def panel_import(sandbox, zip_path, fresh=True):
    """Import ``zip_path``; ``fresh`` starts from an empty plugin folder (a first install),
    else the release is copied over the one installed (an upgrade). Returns
    (plugin folder, install.sh's environment, install.sh's CompletedProcess)."""
    temp = sandbox.p("/www/server/panel/temp")
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir(parents=True)
    subprocess.run(["unzip", "-X", "-o", "-q", str(zip_path), "-d", str(temp)], check=True)
    found = None
    for dirpath, _dirs, files in os.walk(temp):
        if "info.json" in files and "install.sh" in files and len(files) >= 3:
            found = Path(dirpath)
    assert found is not None
    name = json.loads((found / "info.json").read_text())["name"]
    dest = sandbox.p("/www/server/panel/plugin") / name
    if dest.is_symlink():
        dest.unlink()
    elif fresh and dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(exist_ok=True)
    subprocess.run(["cp", "-a", "-r"] + [str(p) for p in found.iterdir()] + [str(dest)], check=True)
    subprocess.run(["chmod", "-R", "600", str(dest)], check=True)
    env = install_env(sandbox)
    out = subprocess.run(["bash", "install.sh", "install"], cwd=dest, env=env,
                         capture_output=True, text=True)
    return dest, env, out


def relink_repo_plugin(sandbox, repo):
    """Put the sandbox back as the other tests expect it: the plugin linked from the repo."""
    dest = sandbox.plugin_dir
    if dest.is_symlink():
        dest.unlink()
    shutil.rmtree(dest, ignore_errors=True)
    dest.symlink_to(Path(repo) / "plugin")
    subprocess.run(["bash", str(Path(repo) / "install.sh"), "install"], env=install_env(sandbox),
                   capture_output=True)
