"""Targeted checks of the uwsgi_pass → proxy_pass translation (pure; no nginx needed)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "plugin"))

from gunicorn_switch_core.nginx_tokens import NginxConfigError  # noqa: E402
from gunicorn_switch_core.addresses import bind_address  # noqa: E402
from gunicorn_switch_core.nginx_translate import translate_site  # noqa: E402
from gunicorn_switch_core.nginx_tree import find_site_files  # noqa: E402

V = "/www/server/panel/vhost/nginx/s.conf"
CONF = "/www/server/nginx/conf/nginx.conf"


def run(text, bind="127.0.0.1:9001", hint="127.0.0.1:8001", **kw):
    files = {V: text.encode()}
    files.update(kw.pop("extra", {}))
    return translate_site(files, bind, hint, **kw)


def new(result, path=V):
    return result.new_files[path].decode("utf-8", "surrogateescape")


def test_result_shape_and_diff():
    r = run("server { listen 80;\n  location / {\n    uwsgi_pass 127.0.0.1:8001;\n  }\n}\n")
    assert r.changed and set(r.new_files) == {V}
    assert r.diffs.startswith("--- a%s\n+++ b%s\n" % (V, V))
    assert "-    uwsgi_pass 127.0.0.1:8001;\n+    proxy_pass http://127.0.0.1:9001;\n" in r.diffs
    assert isinstance(r.warnings, list)


def test_idempotent():
    text = ("server {\n  uwsgi_param HTTPS on;\n  location / {\n    include uwsgi_params;\n"
            "    uwsgi_pass 127.0.0.1:8001;\n  }\n}\n")
    r = run(text, static_maps=[("/static", "/srv/static")])
    again = run(new(r), static_maps=[("/static", "/srv/static")])
    assert not again.changed and again.new_files == {} and again.diffs == ""


@pytest.mark.parametrize("bind,expected", [
    ("127.0.0.1:9001", "127.0.0.1:9001"), (":9001", "127.0.0.1:9001"),
    ("/run/g.sock", "unix:/run/g.sock"), ("unix:/run/g.sock", "unix:/run/g.sock"),
])
def test_bind_forms(bind, expected):
    assert bind_address(bind) == expected
    r = run("server { location / { uwsgi_pass 127.0.0.1:8001; } }", bind=bind)
    assert "proxy_pass http://%s;" % expected in new(r)


def test_hint_none_switches_every_uwsgi_pass():
    r = run("server { location /a { uwsgi_pass 127.0.0.1:1; } location /b { uwsgi_pass unix:/x; } }",
            hint=None)
    assert new(r).count("proxy_pass http://127.0.0.1:9001;") == 2


@pytest.mark.parametrize("hint", ["localhost:8001", "0.0.0.0:8001", ":8001", "127.0.0.1:8001"])
def test_hint_matches_loopback_spellings(hint):
    r = run("server { location / { uwsgi_pass 127.0.0.1:8001; } }", hint=hint)
    assert r.changed


def test_unix_hint_without_prefix():
    r = run("server { location / { uwsgi_pass unix:/tmp/a.sock; } }", hint="/tmp/a.sock")
    assert r.changed


def test_other_sites_are_not_switched():
    other = "/www/server/panel/vhost/nginx/other.conf"
    up = "upstream up { server 127.0.0.1:8001; }\n"
    files = {V: b"server { location / { uwsgi_pass up; } }\n",
             other: b"server { location / { uwsgi_pass up; } }\n",
             "/www/server/panel/vhost/nginx/0up.conf": up.encode()}
    r = translate_site(files, "127.0.0.1:9001", None, vhost=V)
    assert other not in r.new_files and V in r.new_files
    assert any("also used here by uwsgi_pass" in w for w in r.warnings)


def test_server_level_headers_are_carried_into_location():
    r = run("server {\n  proxy_set_header X-A 1;\n  location / {\n    uwsgi_pass 127.0.0.1:8001;\n"
            "  }\n}\n")
    text = new(r)
    assert "    proxy_set_header X-A 1;\n    proxy_set_header Host $http_host;" in text


def test_http_level_headers_count_too():
    files = {CONF: ("events {}\nhttp {\n  proxy_set_header X-H h;\n  include %s;\n}\n" % V).encode(),
             V: b"server {\n  location / {\n    uwsgi_pass 127.0.0.1:8001;\n  }\n}\n"}
    r = translate_site(files, "127.0.0.1:9001", "127.0.0.1:8001", vhost=V)
    assert "proxy_set_header X-H h;" in new(r) and CONF not in r.new_files


def test_location_own_headers_are_kept_and_completed():
    r = run("server {\n  proxy_set_header X-S 1;\n  location / {\n    proxy_set_header Host $host;\n"
            "    uwsgi_pass 127.0.0.1:8001;\n  }\n}\n")
    text = new(r)
    assert text.count("Host") == 1 and "X-Forwarded-Proto $scheme" in text
    assert text.count("X-S") == 1


@pytest.mark.parametrize("param,header", [
    ("uwsgi_param HTTPS on;", "proxy_set_header X-Forwarded-Proto https;"),
    ("uwsgi_param HTTPS $https if_not_empty;", "proxy_set_header X-Forwarded-Proto $scheme;"),
    ("uwsgi_param UWSGI_SCHEME https;", "proxy_set_header X-Forwarded-Proto https;"),
    ("uwsgi_param REQUEST_SCHEME $scheme;", "proxy_set_header X-Forwarded-Proto $scheme;"),
    ("uwsgi_param HTTP_X_FOO_BAR 'a b';", "proxy_set_header X-Foo-Bar 'a b';"),
    ("uwsgi_param SCRIPT_NAME /p;", "proxy_set_header SCRIPT_NAME /p;"),
])
def test_params_become_headers(param, header):
    r = run("server { location / { %s uwsgi_pass 127.0.0.1:8001; } }" % param)
    assert header in new(r)
    assert "uwsgi_param" not in new(r)


def test_env_like_param_warns():
    r = run("server { location / { uwsgi_param DJANGO_ENV prod; uwsgi_pass 127.0.0.1:8001; } }")
    assert any("DJANGO_ENV" in w and "raw_env" in w for w in r.warnings)


def test_twin_already_present_drops_uwsgi_one():
    r = run("server { location / { proxy_read_timeout 30; uwsgi_read_timeout 60;"
            " uwsgi_pass 127.0.0.1:8001; } }")
    assert "proxy_read_timeout 30;" in new(r) and "60" not in new(r)
    assert any("uwsgi_read_timeout dropped" in w for w in r.warnings)


def test_cache_zone_shared_with_untranslated_site_is_not_renamed():
    other = "/www/server/panel/vhost/nginx/other.conf"
    files = {CONF: ("events {}\nhttp {\n  uwsgi_cache_path /c keys_zone=z:1m;\n"
                    "  include /www/server/panel/vhost/nginx/*.conf;\n}\n").encode(),
             V: b"server { location / { uwsgi_cache z; uwsgi_pass 127.0.0.1:8001; } }\n",
             other: b"server { location / { uwsgi_cache z; uwsgi_pass 127.0.0.1:7001; } }\n"}
    r = translate_site(files, "127.0.0.1:9001", "127.0.0.1:8001", vhost=V)
    assert CONF not in r.new_files and other not in r.new_files
    assert any("cache zone z is still used" in w for w in r.warnings)


def test_websocket_auto_detected_from_existing_upgrade_header():
    r = run("server { location /ws { proxy_set_header Upgrade $http_upgrade;"
            " uwsgi_pass 127.0.0.1:8001; } }")
    text = new(r)
    assert 'proxy_set_header Connection "upgrade";' in text
    assert "proxy_http_version 1.1;" in text


def test_websocket_false_adds_nothing():
    r = run("server { location / { uwsgi_pass 127.0.0.1:8001; } }", websocket=False)
    assert "Upgrade" not in new(r) and "proxy_http_version" not in new(r)


def test_static_maps_skip_existing_and_root_mount():
    r = run("server {\n    location /static/ { root /x; }\n    location / {\n"
            "        uwsgi_pass 127.0.0.1:8001;\n    }\n}\n",
            static_maps=[("/static", "/s"), ("/", "/r"), ("/media/", "/m/")])
    text = new(r)
    assert "location ^~ /static/" not in text and "location ^~ /media/ {" in text
    assert "alias /m/;" in text and "location @gunicorn_switch {" in text
    assert text.index("location ^~ /media/") < text.index("location / {")
    assert any("static-map on /" in w for w in r.warnings)


def test_nothing_to_switch():
    r = run("server { location / { proxy_pass http://127.0.0.1:3000; } }", hint=None)
    assert not r.changed and any("nothing to switch" in w for w in r.warnings)


def test_already_on_new_bind_is_unchanged():
    r = run("server { location / { proxy_pass http://127.0.0.1:9001/; } }", hint="127.0.0.1:8001")
    assert not r.changed


def test_proxy_pass_keeps_its_uri_part():
    r = run("server { location /a/ { proxy_pass http://127.0.0.1:8001/b/; } }")
    assert "proxy_pass http://127.0.0.1:9001/b/;" in new(r)


def test_bad_input_raises_and_names_the_file():
    with pytest.raises(NginxConfigError) as e:
        run("server { location / { uwsgi_pass 127.0.0.1:8001; }\n")
    assert e.value.filename == V


def test_bytes_that_are_not_utf8_survive():
    text = b"# \xb7\xfe\xce\xf1\xc6\xf7 (GBK)\nserver { location / { uwsgi_pass 127.0.0.1:8001; } }\n"
    r = translate_site({V: text}, "127.0.0.1:9001", None)
    assert r.new_files[V].startswith(b"# \xb7\xfe\xce\xf1\xc6\xf7 (GBK)\n")


def test_find_site_files_through_injected_reader():
    tree = {
        CONF: b"events {}\nhttp {\n  map $http_upgrade $connection_upgrade { default upgrade; }\n"
              b"  include proxy.conf;\n  include /www/server/panel/vhost/nginx/*.conf;\n}\n",
        "/www/server/nginx/conf/proxy.conf": b"proxy_buffers 4 4k;\n",
        "/www/server/panel/vhost/nginx/0up.conf": b"upstream up { server 127.0.0.1:8001; }\n",
        "/www/server/panel/vhost/nginx/unrelated.conf": b"server { listen 81; }\n",
        "/www/server/panel/vhost/nginx/broken.conf": b"server {\n",
        V: b"server {\n  include rewrite/s.conf;\n  include /www/ext/s/*.conf;\n"
           b"  include uwsgi_params;\n}\n",
        "/www/server/nginx/conf/rewrite/s.conf": b"location / { uwsgi_pass up; }\n",
        "/www/ext/s/a.conf": b"location /a { }\n",
    }

    def read(path):
        if path not in tree:
            raise IOError(path)
        return tree[path]

    def globber(pattern):
        import fnmatch
        return [p for p in tree if fnmatch.fnmatch(p, pattern)]

    paths = find_site_files(CONF, V, read, globber)
    assert paths[:3] == [V, "/www/server/nginx/conf/rewrite/s.conf", "/www/ext/s/a.conf"]
    assert set(paths[3:]) == {CONF, "/www/server/panel/vhost/nginx/0up.conf"}
    r = translate_site(dict((p, tree[p]) for p in paths), "127.0.0.1:9001", "127.0.0.1:8001",
                       websocket=True, vhost=V)
    assert "Connection $connection_upgrade;" in new(r, "/www/server/nginx/conf/rewrite/s.conf")
    assert b"server 127.0.0.1:9001;" in r.new_files["/www/server/panel/vhost/nginx/0up.conf"]


def test_find_site_files_refuses_a_broken_site_file():
    def read(path):
        return {CONF: b"events {}\nhttp { include /v/*.conf; }\n", V: b"server {\n"}[path]
    with pytest.raises(NginxConfigError):
        find_site_files(CONF, V, read, lambda p: [])


def test_http_level_temp_path_is_not_copied_into_the_location():
    from gunicorn_switch_core import nginx_translate
    main = b"http {\n    uwsgi_temp_path /var/tmp/uw;\n    uwsgi_read_timeout 90;\n    include /v/*.conf;\n}\n"
    vhost = b"server {\n    location / {\n        include uwsgi_params;\n        uwsgi_pass 127.0.0.1:9000;\n    }\n}\n"
    res = nginx_translate.translate_site({"/c/nginx.conf": main, "/v/s.conf": vhost}, "127.0.0.1:9100",
                                         old_upstream_hint="127.0.0.1:9000", conf_dir="/c", vhost="/v/s.conf")
    out = res.new_files["/v/s.conf"].decode()
    assert "proxy_read_timeout 90;" in out
    assert "temp_path" not in out
