"""The command line as a peer of the page, on the sandbox (real nginx, uWSGI, Gunicorn, Django).

Every command runs as a user would run it: a subprocess of the panel's Python, stdin closed
(as over SSH from a script), output parsed. The switch and the rollback run under 50
concurrent connections through nginx; their failed-request counts go to
tests/results/switch_load.json next to the page's.
"""
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.corpus.nginx_cases import CASES, CORPUS, edited_lines, lay_out, vhost_of
from tests.sandbox.checks import config_snapshot, record_load, server_of, statuses, under_load, wait_task
from tests.sandbox import venvs

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "plugin"
ANSIBLE = Path(__file__).resolve().parent / "ansible_switch.sh"
COMMANDS = ["sites", "plan", "switch", "rollback", "status", "control", "logs", "nginx", "export",
            "translate"]


def cli_argv(sandbox=None):
    python = str(sandbox.panel_python) if sandbox is not None else sys.executable
    return [python, "-m", "gunicorn_switch_core"]


def cli_env(sandbox=None, root=None, lang="en"):
    env = dict(os.environ)
    if sandbox is not None:
        env.update(sandbox.env())
    if root is not None:
        env["GUNICORN_SWITCH_ROOT"] = str(root)
    env["PYTHONPATH"] = str(PLUGIN)
    env["GUNICORN_SWITCH_LANG"] = lang
    return env


def cli(sandbox, *argv, root=None, lang="en", timeout=600):
    """(exit code, stdout, stderr) of one command, stdin closed as in a non-interactive SSH."""
    res = subprocess.run(cli_argv(sandbox) + [str(a) for a in argv], env=cli_env(sandbox, root, lang),
                         cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, timeout=timeout)
    assert "Traceback" not in res.stderr.decode("utf-8", "replace"), res.stderr
    return res.returncode, res.stdout, res.stderr.decode("utf-8", "replace")


def cli_json(sandbox, *argv, **kw):
    code, out, err = cli(sandbox, *(argv + ("--json",)), **kw)
    return code, json.loads(out.decode("utf-8")), err


# -- help, bad input -------------------------------------------------------------------------

@pytest.mark.parametrize("lang,marker", [("en", "exit codes: 0 done"), ("zh", "退出码：0 完成")])
def test_every_command_has_help_in_both_languages(lang, marker, tmp_path):
    for command in [None] + COMMANDS:
        argv = ["--lang", lang] + ([command] if command else []) + ["--help"]
        code, out, _ = cli(None, *argv, root=tmp_path, lang="zh" if lang == "en" else "en")
        text = out.decode("utf-8")
        assert code == 0 and marker in " ".join(text.split()), (command, text)


@pytest.mark.parametrize("argv,expected", [
    (["switch", "nope.test", "--yes"], 2),
    (["switch", "../../etc/passwd", "--yes"], 2),
    (["switch", "shop.test;reboot", "--yes"], 2),
    (["plan", "shop.test", "--set", "workers=abc"], 2),
    (["plan", "shop.test", "--set", "workers=0"], 2),
    (["plan", "shop.test", "--set", "user=root"], 2),
    (["plan", "shop.test", "--set", "evil=1"], 2),
    (["plan", "shop.test", "--set", "bind=0.0.0.0"], 2),
    (["logs", "shop.test", "--lines", "0"], 2),
    (["status", "nope.test"], 2),
    (["export", "shop.test"], 2),
    (["control", "shop.test", "reload"], 1),  # the plugin did not switch it
    (["rollback", "nope.test", "--yes"], 2),
    (["switch", "shop.test"], 1),  # asks, and nobody answers on a closed stdin
])
def test_bad_input_changes_nothing_and_says_why(sandbox, argv, expected):
    before = config_snapshot(sandbox)
    code, out, err = cli_json(sandbox, *argv)
    assert code == expected, (out, err)
    assert out["exit"] == expected and out["error"] and err.startswith("error: "), (out, err)
    assert config_snapshot(sandbox) == before


def test_unknown_op_is_refused_by_the_parser(sandbox):
    code, _, err = cli(sandbox, "control", "shop.test", "reboot")
    assert code == 2 and "invalid choice" in err


# -- switch and rollback under load, idempotent, shared with the page --------------------------

def _watch_frames(sandbox, site, stop_key):
    """Run ``status --watch`` in a pseudo-terminal until two frames are drawn, press
    ``stop_key``; returns (frames seen, exit status)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the CLI on the pty's slave side
        os.execve(cli_argv(sandbox)[0], cli_argv(sandbox) + ["status", site, "--watch", "--interval", "0.3"],
                  dict(cli_env(sandbox), TERM="xterm"))
    out = b""
    end = time.monotonic() + 60
    try:
        while out.count(b"\x1b[H\x1b[2J") < 2 and time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if ready:
                out += os.read(fd, 65536)
        frames = out.count(b"\x1b[H\x1b[2J")
        os.write(fd, stop_key)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    out += os.read(fd, 65536)
                except OSError:
                    pass
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError("status --watch did not exit on %r: %r" % (stop_key, out[-500:]))
    finally:
        os.close(fd)
    return frames, out, status


def _followed_request(sandbox, site):
    """``logs --follow`` prints a request made after it started; Ctrl-C ends it with 0."""
    proc = subprocess.Popen(cli_argv(sandbox) + ["logs", site, "--kind", "access", "--lines", "1",
                                                 "--follow"],
                            env=cli_env(sandbox), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    marker = ("/nope/cli-follow-%d/" % os.getpid()).encode()
    out = b""
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)  # its first tail is printed
        assert ready
        out += os.read(proc.stdout.fileno(), 65536)
        assert marker not in out
        assert sandbox.get(site, marker.decode())[0] == 404
        end = time.monotonic() + 30
        while marker not in out and time.monotonic() < end:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                out += os.read(proc.stdout.fileno(), 65536)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return marker in out


def test_cli_switch_and_rollback_under_load(sandbox, plugin, panel_get):
    site = "shop.test"
    before_files = config_snapshot(sandbox)
    before_status = statuses(sandbox, site)
    assert server_of(sandbox, site) == ""  # uWSGI

    code, table, _ = cli(sandbox, "sites")
    assert code == 0 and any(line.split()[:2] == [site, "uwsgi"] for line in table.decode().splitlines())
    code, text, _ = cli(sandbox, "plan", site)
    assert code == 0 and b"# shop.test -> " in text and b"\n+" in text and b"proxy_pass http://" in text
    code, plan, _ = cli_json(sandbox, "plan", site, "--set", "workers=2")
    assert code == 0 and "workers = 2" in plan["gunicorn_conf"] and plan["nginx_diff"], plan
    assert [s["name"] for s in plan["steps"]][0] == "install"
    assert config_snapshot(sandbox) == before_files

    # -- switch, under load ----------------------------------------------------------------
    (code, out, err), load = under_load(sandbox, site, lambda: cli_json(
        sandbox, "switch", site, "--set", "workers=2", "--yes"))
    record_load("%s cli switch" % site, load)
    assert code == 0, (out, err)
    assert out["changed"] is True and out["state"] == "succeeded" and out["serving"] is True, out
    # install may be skipped (Gunicorn in the venv already); every other step ran
    assert [s["state"] for s in out["steps"] if s["name"] != "install"] == \
        ["done"] * (len(out["steps"]) - 1)
    assert load["total"] > 50 and load["failed"] == 0, load
    assert server_of(sandbox, site).startswith("gunicorn/")
    assert statuses(sandbox, site) == before_status
    # the page sees the task the command line started
    page = plugin.get_task(panel_get(task_id=out["task_id"]))
    assert page["status"] and page["data"]["state"] == "succeeded"

    # -- a second switch: no change; other settings: refused --------------------------------
    switched_files = config_snapshot(sandbox)
    code, again, err = cli_json(sandbox, "switch", site, "--set", "workers=2", "--yes")
    assert code == 0 and again["changed"] is False and again["task_id"] is None, (again, err)
    code, again, err = cli_json(sandbox, "switch", site, "--yes")
    assert code == 0 and again["changed"] is False, (again, err)
    code, other, err = cli_json(sandbox, "switch", site, "--set", "workers=3", "--yes")
    assert code == 1 and "workers" in other["error"], other
    assert config_snapshot(sandbox) == switched_files

    # -- every other command on the switched site ------------------------------------------
    code, sites, _ = cli_json(sandbox, "sites")
    mine = {s["site"]: s for s in sites}[site]
    assert code == 0 and mine["server"] == "gunicorn" and mine["managed_by_plugin"] is True
    code, st, _ = cli_json(sandbox, "status", site)
    assert code == 0 and st["running"] is True and len(st["workers"]) == 2, st
    code, text, _ = cli(sandbox, "status", site)
    assert code == 0 and str(st["master"]["pid"]).encode() in text
    for key in (b"q", b"\x03"):
        frames, screen, status = _watch_frames(sandbox, site, key)
        assert frames >= 2 and b"PID" in screen, screen[-500:]
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (key, status)
    code, ctl, err = cli_json(sandbox, "control", site, "reload")
    assert code == 0 and ctl["done"] is True and not set(ctl["old_workers"]) & set(ctl["new_workers"]), (ctl, err)
    code, logs, _ = cli_json(sandbox, "logs", site, "--kind", "error", "--lines", "20")
    assert code == 0 and logs["kind"] == "error" and "Booting worker" in logs["text"], logs
    assert len(logs["text"].splitlines()) <= 20
    assert _followed_request(sandbox, site)
    code, exp, _ = cli_json(sandbox, "export", site, "--docker")
    assert code == 0 and "0.0.0.0:8000" in exp["conf"] and exp["cmd"][0] == "gunicorn"

    # -- rollback, under load, then once more: no change -------------------------------------
    (code, out, err), load = under_load(sandbox, site, lambda: cli_json(sandbox, "rollback", site, "--yes"))
    record_load("%s cli rollback" % site, load)
    assert code == 0 and out["changed"] is True and out["serving"] is True, (out, err)
    assert load["total"] > 50 and load["failed"] == 0, load
    assert server_of(sandbox, site) == ""
    assert statuses(sandbox, site) == before_status
    assert config_snapshot(sandbox) == before_files  # byte for byte
    code, again, _ = cli_json(sandbox, "rollback", site, "--yes")
    assert code == 0 and again["changed"] is False and again["server"] == "uwsgi", again

    # -- the page and the command line share the per-site lock -------------------------------
    started = plugin.switch(panel_get(plan_and_apply="1", site=site))
    assert started["status"], started
    for action in ("switch", "rollback"):  # neither a second switch nor "nothing to roll back"
        code, busy, _ = cli_json(sandbox, action, site, "--yes")
        assert code == 1 and busy["exit"] == 1, busy
    task = wait_task(plugin, panel_get, started["data"]["task_id"])
    assert task["state"] == "succeeded", task
    code, text, err = cli(sandbox, "rollback", site, "--yes")  # a page's switch, undone here
    assert code == 0, err
    assert b"[1/" in text and text.rstrip().endswith(b"shop.test is back on uWSGI"), text
    assert config_snapshot(sandbox) == before_files


def test_ansible_style_switch_twice(sandbox):
    """What an Ansible `command:` task with `changed_when` sees, stdin from /dev/null."""
    site = "blog.test"
    before = config_snapshot(sandbox)
    res = subprocess.run(["sh", str(ANSIBLE), site] + cli_argv(sandbox), env=cli_env(sandbox),
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=900)
    out = res.stdout.decode()
    try:
        assert res.returncode == 0, (out, res.stderr.decode())
        assert "changed: true" in out and "changed: false" in out
    finally:
        code, back, err = cli_json(sandbox, "rollback", site, "--yes")
        assert code == 0, (back, err)
    assert config_snapshot(sandbox) == before


# -- export --docker ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def throwaway_gunicorn(tmp_path_factory):
    """A fresh venv with Django and Gunicorn (from the cached wheelhouse), as in a container."""
    return venvs.make_venv(tmp_path_factory.mktemp("docker") / "venv",
                           [p for p in venvs.SITE_PACKAGES if p.startswith("django")] + [venvs.GUNICORN_NEW],
                           pip_conf=False)


@pytest.mark.parametrize("site,stats", [("blog.test", False), ("vassal.test", True)])
def test_export_docker_passes_check_config(sandbox, throwaway_gunicorn, tmp_path, site, stats):
    app = tmp_path / "app"
    shutil.copytree(str(sandbox.sites[site].project), str(app), symlinks=True,
                    ignore=shutil.ignore_patterns("run", "*.sock", "__pycache__"))
    out_dir = tmp_path / "out"
    argv = ["export", site, "--docker", "--app-dir", str(app), "--out", str(out_dir)]
    code, res, err = cli_json(sandbox, *(argv + (["--stats"] if stats else [])))
    assert code == 0, (res, err)
    conf = (out_dir / "gunicorn_conf.py").read_text()
    assert conf == res["conf"]
    assert "bind = ['0.0.0.0:8000']" in conf and "errorlog = '-'" in conf
    assert str(sandbox.root) not in conf and "/www/" not in conf
    assert "\npidfile = " not in conf and "\nuser = " not in conf
    assert ("def post_fork" in conf) is stats
    assert 'CMD ["gunicorn", "--config", "%s/gunicorn_conf.py"]' % app in (out_dir / "Dockerfile.gunicorn").read_text()
    check = subprocess.run([str(throwaway_gunicorn / "bin" / "gunicorn"), "--check-config", "-c",
                            str(out_dir / "gunicorn_conf.py")], cwd=str(app), capture_output=True,
                           timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert check.returncode == 0, (check.stdout + check.stderr).decode()
    code, text, _ = cli(sandbox, *(argv[:-2] + (["--stats"] if stats else [])))  # to stdout
    assert code == 0 and text.decode().startswith(conf) and b"#   CMD [" in text


# -- nginx FILE --to ADDRESS ----------------------------------------------------------------------

def _switch_translation(root, case):
    """What the switch's translation writes for the case's vhost (as test_nginx_corpus runs it)."""
    from gunicorn_switch_core.nginx_translate import find_site_files, translate_site
    spec = json.load(open(os.path.join(CORPUS, case, "case.json")))
    main = os.path.join(root, "www/server/nginx/conf/nginx.conf")
    vhost = vhost_of(root)
    files = {p: open(p, "rb").read() for p in find_site_files(main, vhost)}
    maps = [(m, d.replace("/www/", root + "/www/")) for m, d in spec.get("static_maps", [])]
    result = translate_site(files, spec["bind"], spec.get("hint"), maps, spec.get("websocket"),
                            vhost=vhost)
    return spec, main, vhost, maps, result


# The corpus's golden files are compared in test_nginx_corpus (make test-fast); here the command
# line's plumbing (--to, --from, --static-map, --websocket, --conf) over a few cases that use all
# of it, and every case in `make test`.
CLI_FAST = ("01_baota_php_rewrite", "04_upstream_unix_multi", "13_websocket_literal", "18_crlf",
            "25_two_servers", "35_upstream_other_file")


@pytest.mark.parametrize("case", [c if c in CLI_FAST else pytest.param(c, marks=pytest.mark.slow)
                                  for c in CASES])
def test_nginx_command_writes_what_the_switch_writes(case, tmp_path):
    certificate = (str(tmp_path / "no-cert.pem"), str(tmp_path / "no-key.pem"))
    for p in certificate:
        Path(p).write_text("unused: nginx -t is not run here\n")
    root = str(tmp_path / "root")
    os.makedirs(root)
    lay_out(case, root, certificate)
    spec, main, vhost, maps, result = _switch_translation(root, case)
    original = open(vhost, "rb").read()
    expected = result.new_files.get(vhost, original)

    argv = ["nginx", vhost, "--to", spec["bind"], "--conf", main]
    if spec.get("hint"):
        argv += ["--from", spec["hint"]]
    for m, d in maps:
        argv += ["--static-map", "%s=%s" % (m, d)]
    if spec.get("websocket") is not None:
        argv += ["--websocket", "on" if spec["websocket"] else "off"]
    code, text, err = cli(None, *argv, root=tmp_path / "empty")
    assert code == 0, err
    assert text == expected, case
    if expected == original:
        assert "nothing to change" in err

    code, out, _ = cli_json(None, *argv, root=tmp_path / "empty")
    assert code == 0 and out["text"].encode("utf-8", "surrogateescape") == expected
    assert isinstance(out["warnings"], list) and bool(out["changes"]) == (expected != original)

    # bytes outside the directives the switch rewrites are identical
    editable = edited_lines(original)
    for change in out["changes"]:
        for i in range(change["line"], change["line"] + len(change["removed"])):
            assert i in editable, (case, i, change)


def test_nginx_command_on_a_file_alone(tmp_path):
    conf = tmp_path / "site.conf"
    conf.write_bytes(b"upstream app { server 127.0.0.1:8001; }\r\n# \xe4\xb8\xad\xe6\x96\x87\r\n"
                     b"server {\r\n    listen 80;\r\n    location / {\r\n        uwsgi_pass app;\r\n"
                     b"        include uwsgi_params;\r\n    }\r\n}")
    code, text, err = cli(None, "nginx", conf, "--to", "unix:/run/app/gunicorn.sock", root=tmp_path)
    assert code == 0, err
    assert b"server unix:/run/app/gunicorn.sock;" in text and b"proxy_pass http://app;" in text
    assert b"uwsgi_" not in text and text.startswith(b"upstream app {") and b"# \xe4\xb8\xad\xe6\x96\x87\r\n" in text
    plain = tmp_path / "static.conf"
    plain.write_text("server {\n    listen 80;\n    root /srv;\n}\n")
    code, text, err = cli(None, "nginx", plain, "--to", "127.0.0.1:9000", root=tmp_path)
    assert code == 0 and text == plain.read_bytes() and "nothing to change" in err
    broken = tmp_path / "broken.conf"
    broken.write_text("server {\n    location / {\n")
    for path in (broken, tmp_path / "missing.conf"):
        code, out, err = cli_json(None, "nginx", path, "--to", "127.0.0.1:9000", root=tmp_path)
        assert code == 2 and out["exit"] == 2 and str(path) in out["error"]
    code, _, err = cli(None, "nginx", conf, "--to", "127.0.0.1:9000;evil", root=tmp_path)
    assert code == 2 and "--to" in err


# -- the wrapper install.sh puts on the PATH ------------------------------------------------------

def test_install_puts_the_wrapper_on_the_path_and_uninstall_removes_it(tmp_path):
    plugins = tmp_path / "www/server/panel/plugin"
    plugins.mkdir(parents=True)
    (plugins / "gunicorn_switch").symlink_to(PLUGIN)
    env = dict(os.environ, GUNICORN_SWITCH_ROOT=str(tmp_path))
    subprocess.run(["bash", str(REPO / "install.sh"), "install"], env=env, check=True, capture_output=True)
    wrapper = tmp_path / "usr/local/bin/gunicorn-switch"
    assert os.access(str(wrapper), os.X_OK)
    conf = tmp_path / "a.conf"
    conf.write_text("server {\n    location / {\n        uwsgi_pass 127.0.0.1:8001;\n    }\n}\n")
    res = subprocess.run([str(wrapper), "--lang", "en", "nginx", "a.conf", "--to", "127.0.0.1:9001"],
                         cwd=str(tmp_path), capture_output=True, env=env)
    assert res.returncode == 0 and b"proxy_pass http://127.0.0.1:9001;" in res.stdout, res.stderr
    res = subprocess.run([str(wrapper), "--help"], capture_output=True, env=env)
    assert res.returncode == 0 and b"gunicorn-switch" in res.stdout
    subprocess.run(["bash", str(REPO / "install.sh"), "uninstall"], env=env, check=True, capture_output=True)
    assert not wrapper.exists()
    wrapper.write_text("#!/bin/sh\necho someone else's\n")  # not ours: left alone both ways
    subprocess.run(["bash", str(REPO / "install.sh"), "install"], env=env, check=True, capture_output=True)
    subprocess.run(["bash", str(REPO / "install.sh"), "uninstall"], env=env, check=True, capture_output=True)
    assert wrapper.read_text() == "#!/bin/sh\necho someone else's\n"
