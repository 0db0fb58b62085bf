"""The sandbox's three uWSGI sites answer through real nginx, and get_sites reports them."""
import pytest


@pytest.mark.parametrize("path", ["/", "/db/", "/static/css/app.css", "/static/site.webmanifest"])
@pytest.mark.parametrize("site", ["shop.test", "blog.test", "api", "vassal.test"])
def test_site_serves_through_nginx(sandbox, site, path):
    status, body = sandbox.get(site, path)
    assert status == 200, (site, path, body[:200])


def test_unknown_host_is_not_served(sandbox):
    import http.client

    c = http.client.HTTPConnection("127.0.0.1", sandbox.nginx_port, timeout=5)
    c.request("GET", "/", headers={"Host": "nope.test"})
    assert c.getresponse().status == 404


def test_get_sites_reports_every_shape(sandbox, plugin, panel_get):
    res = plugin.get_sites(panel_get())
    assert res["status"] is True, res
    sites = {s["site"]: s for s in res["data"]}
    assert set(sites) == set(sandbox.sites)
    for name, s in sites.items():
        sb = sandbox.sites[name]
        assert s["server"] == "uwsgi"
        assert s["is_django"] is True
        assert s["project_path"] == str(sb.project)
        assert s["venv"] == str(sb.venv)
        assert s["python"] and s["python"].startswith("3.")
        assert s["uwsgi_config"] == str(sb.uwsgi_ini)
        assert s["managed_by_plugin"] is False
        assert s["pid"]
    shop, blog, api = sites["shop.test"], sites["blog.test"], sites["api"]
    assert shop["manager"] == "daemon"
    assert shop["pass_directive"] == "uwsgi_pass"
    assert shop["upstream"] == "127.0.0.1:%d" % sandbox.sites["shop.test"].port
    assert shop["nginx_conf"].endswith("/vhost/nginx/shop.test.conf")
    assert any(f.endswith("/vhost/rewrite/shop.test.conf") for f in shop["nginx_files"])
    assert blog["manager"] == "supervisor" and blog["manager_detail"] == "blog_uwsgi"
    assert blog["upstream"].startswith("blog_backend -> unix:")
    assert api["manager"] == "panel_project"
    assert api["pass_directive"] == "proxy_pass"
    assert api["nginx_conf"].endswith("/vhost/nginx/python_api.conf")
    vassal = sites["vassal.test"]
    assert vassal["manager"] == "emperor" and vassal["pass_directive"] == "uwsgi_pass"


def test_discovery_changes_nothing(sandbox, plugin, panel_get):
    """Reading never changes a live site: same pids, same files, same pidfiles."""
    import hashlib

    def snapshot():
        files = {}
        for p in sorted(sandbox.root.rglob("*")):
            if p.is_file() and "/temp/" not in str(p) and "wwwlogs" not in str(p) \
                    and "gunicorn_switch/logs" not in str(p) and p.suffix not in (".log", ".sqlite3"):
                files[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
        return files, sorted(pr.pid for pr in sandbox.pids())

    before = snapshot()
    for _ in range(3):
        assert plugin.get_sites(panel_get())["status"] is True
    assert snapshot() == before
