"""nginx_stage against a real nginx: the live tree is checked with the rewrite in place, the
live files are never touched, and nginx's own message comes back on failure."""
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "plugin"))

from gunicorn_switch_core.nginx_stage import stage_and_test  # noqa: E402
from gunicorn_switch_core.nginx_translate import find_site_files, translate_site  # noqa: E402

NGINX = "/usr/sbin/nginx"
pytestmark = pytest.mark.skipif(not os.path.exists(NGINX), reason="needs Debian nginx")

VHOST = """server
{
    listen 80;
    server_name site.example.com;
    root ROOT/www/wwwroot/site;
    #REWRITE-START
    include vhost/rewrite/site.conf;
    #REWRITE-END
    access_log ROOT/www/wwwlogs/site.log;
}
"""
REWRITE = """location / {
    include uwsgi_params;
    uwsgi_pass 127.0.0.1:8001;
}
"""
OTHER = """server {
    listen 80;
    server_name other.example.com;
    ssl_certificate_key cert/key.pem;
    ssl_certificate cert/cert.pem;
    location / { uwsgi_pass 127.0.0.1:7001; include uwsgi_params; }
}
"""


@pytest.fixture
def live(tmp_path):
    """A Baota-shaped nginx tree: relative includes, a glob of vhosts, a relative certificate."""
    root = str(tmp_path)
    prefix = os.path.join(root, "www/server/nginx")
    conf = os.path.join(prefix, "conf")
    for d in ("conf/vhost/rewrite", "logs", "temp", "vhosts"):
        os.makedirs(os.path.join(prefix, d))
    os.makedirs(os.path.join(root, "www/wwwlogs"))
    for name in ("mime.types", "uwsgi_params"):
        shutil.copy(os.path.join("/etc/nginx", name), conf)
    os.makedirs(os.path.join(conf, "cert"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", os.path.join(conf, "cert/key.pem"),
                    "-out", os.path.join(conf, "cert/cert.pem")], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    files = {
        "conf/nginx.conf": ("pid logs/nginx.pid;\nerror_log logs/error.log;\n"
                            "events { worker_connections 64; }\nhttp {\n"
                            "    include mime.types;\n    include proxy.conf;\n"
                            "    client_body_temp_path temp/body;\n    proxy_temp_path temp/p;\n"
                            "    uwsgi_temp_path temp/u;\n    fastcgi_temp_path temp/f;\n"
                            "    scgi_temp_path temp/s;\n    include %s/vhosts/*.conf;\n}\n"
                            % prefix),
        "conf/proxy.conf": "proxy_connect_timeout 30;\n",
        "vhosts/site.conf": VHOST.replace("ROOT", root),
        "vhosts/other.conf": OTHER,
        "conf/vhost/rewrite/site.conf": REWRITE,
    }
    for rel, text in files.items():
        with open(os.path.join(prefix, rel), "w") as f:
            f.write(text)
    return prefix


def snapshot(top):
    out = {}
    for dirpath, _, names in os.walk(top):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as f:
                out[os.path.join(dirpath, name)] = f.read()
    return out


def switched(live):
    main = os.path.join(live, "conf/nginx.conf")
    vhost = os.path.join(live, "vhosts/site.conf")
    paths = find_site_files(main, vhost)
    files = dict((p, open(p, "rb").read()) for p in paths)
    return main, translate_site(files, "127.0.0.1:9001", "127.0.0.1:8001", vhost=vhost)


def test_live_tree_is_valid(live):
    proc = subprocess.run([NGINX, "-t", "-p", live + "/", "-c", live + "/conf/nginx.conf"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.returncode == 0, proc.stdout


def test_good_rewrite_passes_and_nothing_live_changes(live, tmp_path):
    main, result = switched(live)
    rewrite = os.path.join(live, "conf/vhost/rewrite/site.conf")
    assert list(result.new_files) == [rewrite]
    before = snapshot(str(tmp_path))
    ok, out = stage_and_test(NGINX, main, result.new_files)
    assert ok, out
    assert "syntax is ok" in out and main in out
    after = snapshot(str(tmp_path))
    # nginx -t opens (creates) the log files, as the live nginx does; nothing else appears
    assert set(after) - set(before) == set(p for p in after if p.endswith(".log"))
    assert all(after[p] == before[p] for p in before)
    assert not os.path.exists(os.path.join(live, "logs/nginx.pid"))


def test_existing_pid_file_is_left_alone(live):
    main, result = switched(live)
    pid = os.path.join(live, "logs/nginx.pid")
    with open(pid, "w") as f:
        f.write("4242\n")
    ok, out = stage_and_test(NGINX, main, result.new_files)
    assert ok, out
    assert open(pid).read() == "4242\n"


def test_staged_copy_is_what_nginx_checked(live, tmp_path):
    main, result = switched(live)
    keep = str(tmp_path / "staged")
    os.makedirs(keep)
    ok, out = stage_and_test(NGINX, main, result.new_files, keep_dir=keep)
    assert ok, out
    staged_main = open(os.path.join(keep, "nginx.conf")).read()
    # the glob became one include per file, the changed chain points at staged copies
    assert "include %s/vhosts/other.conf;" % live in staged_main
    assert "include %s/vhosts/*.conf" % live not in staged_main
    assert "include %s/conf/mime.types;" % live in staged_main
    staged = [n for n in os.listdir(keep) if n.endswith("site.conf")]
    assert len(staged) == 2  # the vhost and its rewrite file
    bodies = [open(os.path.join(keep, n), "rb").read() for n in staged]
    assert result.new_files[os.path.join(live, "conf/vhost/rewrite/site.conf")] in bodies


def test_broken_rewrite_fails_with_nginx_message_on_the_real_path(live):
    main = os.path.join(live, "conf/nginx.conf")
    rewrite = os.path.join(live, "conf/vhost/rewrite/site.conf")
    bad = b"location / {\n    proxy_pass http://127.0.0.1:9001;\n    proxy_sett_header Host $host;\n}\n"
    ok, out = stage_and_test(NGINX, main, {rewrite: bad})
    assert not ok
    assert 'unknown directive "proxy_sett_header"' in out
    assert "%s:3" % rewrite in out


def test_rewrite_conflicting_with_live_config_fails(live):
    main = os.path.join(live, "conf/nginx.conf")
    vhost = os.path.join(live, "vhosts/site.conf")
    dup = VHOST.replace("ROOT", "/tmp").replace("#REWRITE-END", "#REWRITE-END\n    location / { }")
    ok, out = stage_and_test(NGINX, main, {vhost: dup.encode()})
    assert not ok and 'duplicate location "/"' in out


def test_unrelated_broken_include_fails(live):
    with open(os.path.join(live, "vhosts/broken.conf"), "w") as f:
        f.write("server { listen 80; server_name broken; location / { \n")
    main, result = switched(live)
    ok, out = stage_and_test(NGINX, main, result.new_files)
    assert not ok
    assert "broken.conf" in out and "unexpected end of file" in out


def test_file_not_on_any_include_path_is_refused(live):
    main = os.path.join(live, "conf/nginx.conf")
    ok, out = stage_and_test(NGINX, main, {"/nowhere/x.conf": b"server {}\n"})
    assert not ok and "not reached" in out


def test_unparsable_new_file_is_reported_without_running_nginx(live):
    main = os.path.join(live, "conf/nginx.conf")
    rewrite = os.path.join(live, "conf/vhost/rewrite/site.conf")
    ok, out = stage_and_test(NGINX, main, {rewrite: b"location / {\n"})
    assert not ok and rewrite in out and "expecting" in out
