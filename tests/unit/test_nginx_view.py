from gunicorn_switch_core import addresses, nginx_tree, nginx_view


def test_normalize_address():
    n = addresses.normalize
    assert n("127.0.0.1:8000") == "127.0.0.1:8000"
    assert n("http://127.0.0.1:8000/") == "127.0.0.1:8000"
    assert n("http://localhost:8000/app/") == "127.0.0.1:8000"
    assert n("unix:/run/x.sock") == "unix:/run/x.sock"
    assert n("http://unix:/run/x.sock:/uri") == "unix:/run/x.sock"
    assert n("backend") == "backend"


def test_listen_matches():
    m = addresses.listen_matches
    assert m("127.0.0.1:8000", "0.0.0.0:8000")
    assert m("127.0.0.1:8000", "127.0.0.1:8000")
    assert not m("127.0.0.1:8000", "127.0.0.1:8001")
    assert m("unix:/a", "unix:/a") and not m("unix:/a", "unix:/b")
    assert not m("10.0.0.2:8000", "127.0.0.1:8000")


def test_load_tree_follows_includes_and_globs(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "params").write_text("uwsgi_param A b;\n")
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "a.conf").write_text("location /a { uwsgi_pass 127.0.0.1:1; }\n")
    (inc / "b.conf").write_text("location /b { proxy_pass http://up/; }\n")
    vhost = tmp_path / "v.conf"
    vhost.write_text("server { include params; include %s/*.conf; include missing.conf; }\n" % inc)
    tree, problems = nginx_tree.load_tree(str(vhost), str(conf), lambda p: open(p, "rb").read())
    assert [p for p, _ in tree] == [str(vhost), str(conf / "params"), str(inc / "a.conf"), str(inc / "b.conf")]
    assert len(problems) == 1 and problems[0][0].endswith("missing.conf")
    t = nginx_view.targets(tree)
    assert [(x["directive"], x["address"]) for x in t] == [("uwsgi_pass", "127.0.0.1:1"), ("proxy_pass", "up")]


def test_upstreams():
    import gunicorn_switch_core.nginx_tokens as tk
    conf = tk.parse(b"upstream u { server unix:/s.sock; server 127.0.0.1:9 weight=2; keepalive 4; }\n", "f")
    ups = nginx_view.upstreams([[("f", conf)]])
    assert ups == {"u": {"servers": ["unix:/s.sock", "127.0.0.1:9"], "file": "f", "line": 1}}


def test_server_kind():
    from gunicorn_switch_core import processes
    assert processes.server_kind(["/venv/bin/uwsgi", "--ini", "x.ini"]) == "uwsgi"
    assert processes.server_kind(["gunicorn: master [shop]"]) == "gunicorn"
    assert processes.server_kind(["/usr/bin/python3", "-m", "gunicorn", "app:app"]) == "gunicorn"
    assert processes.server_kind(["nginx: worker process"]) is None
