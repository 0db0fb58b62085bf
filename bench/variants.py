"""A/B of Gunicorn settings and nginx shapes against the site's original uWSGI, through nginx.

    python3 bench/variants.py [--rounds 3] [--seconds 4] [--only gen,noaccess,...]

The evidence behind the translation's defaults (bench/NOTES.md). uWSGI keeps running on its own
address; every variant runs the plugin's generated gunicorn_conf.py for shop.test with a few
settings changed, on the plan's bind, and nginx is pointed at one or the other (the plugin's
rewritten files, or the originals) with a reload. Rounds alternate the variants, so a noisy
machine hits them all alike. For each view it prints the median req/s and the server's CPU
time per request (master and workers, user + system: steadier than req/s on a shared machine).
Not a test: it asserts nothing about time.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for _p in (str(REPO / "bench"), str(REPO), str(REPO / "plugin")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import run as bench  # noqa: E402
from conf_variants import VARIANTS  # noqa: E402
from tests.sandbox.host import Sandbox  # noqa: E402

VIEWS = bench.VIEWS  # (label, path)


def vhost_file(sb, site):
    return str(sb.p("/www/server/panel/vhost/nginx/%s.conf" % site))


def nginx_texts(sb, plan, shape, sock):
    """The plugin's rewritten nginx files, shaped for the variant."""
    out = {}
    bind = plan["bind"]
    up = "gsw_bench_ka"
    for path, text in plan["nginx_files"].items():
        if shape == "unix":
            text = text.replace("http://%s" % bind, "http://unix:%s:" % sock)
        elif shape == "keepalive":
            text = text.replace("proxy_pass http://%s;" % bind,
                                "proxy_pass http://%s;\n        proxy_http_version 1.1;\n"
                                "        proxy_set_header Connection \"\";" % up)
        out[path] = text
    if shape == "keepalive":  # the upstream block goes at http level: the site's vhost file
        vhost = vhost_file(sb, plan["site"])
        text = out.get(vhost) or Path(vhost).read_text(encoding="utf-8", errors="surrogateescape")
        out[vhost] = "upstream %s { server %s; keepalive 16; }\n" % (up, bind) + text
    return out


def pip_install(venv, pkgs, index):
    env = dict(os.environ)
    if index:  # the sandbox's wheelhouse has no gunicorn_h1c: let pip reach the index
        env["PIP_NO_INDEX"] = "0"  # outranks the venv's pip.conf (no-index = true)
    subprocess.run([os.path.join(venv, "bin", "python"), "-m", "pip", "install", "-q",
                    "--disable-pip-version-check"] + pkgs, env=env, check=True)


def point_nginx(sb, files):
    for path, text in files.items():
        Path(path).write_text(text, encoding="utf-8", errors="surrogateescape")
    bench.reload_nginx(sb)
    time.sleep(0.5)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--only", default=",".join(VARIANTS))
    args = ap.parse_args(argv)
    chosen = [v for v in args.only.split(",") if v]
    tmp = Path(tempfile.mkdtemp(prefix="gsw-variants-"))
    site = bench.SITE
    sb = Sandbox().build().start()
    saved_env = sb.activate()
    results = {k: {n: [] for n, _ in VIEWS} for k in ["uwsgi"] + chosen}
    proc = None
    try:
        plan = bench.first_plan(site)
        vhost = vhost_file(sb, site)
        originals = {p: Path(p).read_text(encoding="utf-8", errors="surrogateescape")
                     for p in list(plan["nginx_files"]) + [vhost]}
        pkgs = ["gunicorn==%s" % plan["gunicorn_version"], "setproctitle"]
        fast_parser = any(v.startswith("h1c") for v in chosen)
        if fast_parser:
            pkgs.append("gunicorn_h1c")  # sdist only: compiled here, from PyPI
        pip_install(plan["venv"], pkgs, index=fast_parser)
        bench._prepare_logs(plan)
        sock = str(tmp / "gunicorn.sock")
        os.chmod(str(tmp), 0o755)
        uwsgi_pid = plan["uwsgi_pid"]
        print("settings:", {k: plan["settings"].get(k) for k in
                            ("workers", "threads", "worker_class", "accesslog")}, flush=True)
        for r in range(args.rounds):
            point_nginx(sb, originals)
            res = bench.measure_views(sb, site, args.seconds, uwsgi_pid)
            for n, v in res.items():
                results["uwsgi"][n].append(v)
            print("round %d uwsgi    %s" % (r, _line(res)), flush=True)
            for v in chosen:
                extra, shape = VARIANTS[v]
                conf = tmp / ("conf_%s.py" % v)
                conf.write_text(plan["gunicorn_conf"] + "\n# bench variant\n" +
                                extra.format(sock=sock))
                with open(str(tmp / "gunicorn.out"), "ab") as out:
                    proc = bench._spawn_gunicorn(plan, str(conf), out)
                    _wait_up(sb, plan, shape, sock)
                point_nginx(sb, nginx_texts(sb, plan, shape, sock))
                res = bench.measure_views(sb, site, args.seconds, proc.pid)
                for n, val in res.items():
                    results[v][n].append(val)
                print("round %d %-8s %s" % (r, v, _line(res)), flush=True)
                point_nginx(sb, originals)
                bench._stop_gunicorn(proc)
                proc = None
        print()
        print(report(results))
    finally:
        if proc is not None:
            bench._stop_gunicorn(proc)
        sb.deactivate(saved_env)
        sb.destroy()


def _wait_up(sb, plan, shape, sock, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if shape == "unix":
            if os.path.exists(sock):
                time.sleep(1.0)
                return
        elif bench._answers(plan["bind"], plan["domain"]) == plan["baseline_status"]:
            return
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not come up")


def _line(res):
    return "  ".join("%s %5.0f/s %4.0fus" % (n, v["rps"], v["us_per_req"] or 0)
                     for n, v in res.items())


def report(results):
    rows = ["| variant | " + " | ".join("%s req/s (x uWSGI) | %s µs CPU/req" % (n, n)
                                        for n, _ in VIEWS) + " |",
            "|---|" + "---:|---:|" * len(VIEWS)]
    base = {n: statistics.median(v["rps"] for v in results["uwsgi"][n]) for n, _ in VIEWS}
    for k, per in results.items():
        cells = []
        for n, _ in VIEWS:
            rps = statistics.median(v["rps"] for v in per[n])
            us = statistics.median(v["us_per_req"] or 0 for v in per[n])
            cells.append("%.0f (%.2fx) | %.0f" % (rps, rps / base[n] if base[n] else 0, us))
        rows.append("| %s | %s |" % (k, " | ".join(cells)))
    return "\n".join(rows)


if __name__ == "__main__":
    main()
