"""nginx_tree: one include resolver and one walk, for files on disk and in memory alike."""
import pytest

from gunicorn_switch_core import nginx_tree
from gunicorn_switch_core.nginx_tokens import NginxConfigError

CONF = "/c/nginx.conf"
FILES = {
    CONF: b"events {}\nhttp {\n  include mime.types;\n  include /v/*.conf;\n}\n",
    "/c/mime.types": b"types { text/html html; }\n",
    "/v/b.conf": b"server { include rewrite/b.conf; include uwsgi_params; }\n",
    "/v/a.conf": b"upstream up { server 127.0.0.1:8001; }\n",
    "/v/sub/deeper.conf": b"server { }\n",
    "/c/rewrite/b.conf": b"location / { uwsgi_pass up; }\n",
    "/c/uwsgi_params": b"uwsgi_param QUERY_STRING $query_string;\n",
}


def read(path):
    if path not in FILES:
        raise IOError("no such file: " + path)
    return FILES[path]


def test_resolve_include_relative_absolute_and_glob():
    among = nginx_tree.glob_among(FILES)
    assert nginx_tree.resolve_include("mime.types", "/c", among) == ["/c/mime.types"]
    assert nginx_tree.resolve_include("/v/../c/mime.types", "/c", among) == ["/c/mime.types"]
    # a glob is sorted, and its * stays in one directory as glob(3)'s does
    assert nginx_tree.resolve_include("/v/*.conf", "/c", among) == ["/v/a.conf", "/v/b.conf"]
    assert nginx_tree.resolve_include("/v/*.missing", "/c", among) == []


def test_resolve_include_on_disk(tmp_path):
    (tmp_path / "b.conf").write_text("")
    (tmp_path / "a.conf").write_text("")
    got = nginx_tree.resolve_include("*.conf", str(tmp_path))
    assert got == [str(tmp_path / "a.conf"), str(tmp_path / "b.conf")]


def test_uwsgi_params_is_never_followed():
    assert nginx_tree.is_params_include("uwsgi_params")
    assert nginx_tree.is_params_include("/www/server/nginx/conf/uwsgi_params")
    assert not nginx_tree.is_params_include("params")
    loader = nginx_tree.Loader(read, "/c", nginx_tree.glob_among(FILES))
    assert list(loader.closure("/v/b.conf")) == ["/v/b.conf", "/c/rewrite/b.conf"]


def test_follow_is_depth_first_in_nginx_order_with_the_including_file():
    loader = nginx_tree.Loader(read, "/c", nginx_tree.glob_among(FILES))
    order = loader.closure(CONF)
    assert list(order) == [CONF, "/c/mime.types", "/v/a.conf", "/v/b.conf", "/c/rewrite/b.conf"]
    assert order["/c/rewrite/b.conf"] == "/v/b.conf" and order[CONF] is None


def test_follow_stops_at_cycles_and_at_the_depth_limit():
    chain = {"f%d" % i: ["f%d" % (i + 1)] for i in range(20)}
    chain["f20"] = ["f0"]
    order = nginx_tree.follow("f0", chain.get)
    assert list(order) == ["f%d" % i for i in range(nginx_tree.MAX_INCLUDE_DEPTH + 1)]
    assert list(nginx_tree.follow("f0", chain.get, max_depth=100)) == ["f%d" % i for i in range(21)]


def test_loader_reads_each_file_once_and_keeps_problems():
    reads = []

    def counting(path):
        reads.append(path)
        return read(path)

    broken = dict(FILES, **{"/v/b.conf": b"server {\n"})
    loader = nginx_tree.Loader(lambda p: counting(p) and broken[p], "/c",
                               nginx_tree.glob_among(broken),
                               tolerate=(OSError, NginxConfigError))
    loader.closure(CONF)
    loader.closure(CONF)
    assert sorted(reads) == sorted(set(reads))
    assert [p for p, _ in loader.problems] == ["/v/b.conf"]
    strict = nginx_tree.Loader(broken.__getitem__, "/c", nginx_tree.glob_among(broken))
    with pytest.raises(NginxConfigError):
        strict.closure(CONF)


def test_load_tree_reports_what_it_could_not_read():
    files = {"/v/s.conf": b"server { include missing.conf; include x.conf; }\n",
             "/c/x.conf": b"location / { }\n"}
    tree, problems = nginx_tree.load_tree("/v/s.conf", "/c", lambda p: files[p] if p in files
                                          else read(p))
    assert [p for p, _ in tree] == ["/v/s.conf", "/c/x.conf"]
    assert [p for p, _ in problems] == ["/c/missing.conf"]


def test_site_tree_is_find_site_files_parsed_once():
    glob_func = nginx_tree.glob_among(FILES)
    paths = nginx_tree.find_site_files(CONF, "/v/b.conf", read, glob_func)
    assert paths[:2] == ["/v/b.conf", "/c/rewrite/b.conf"]
    assert set(paths[2:]) == {CONF, "/v/a.conf"}  # the upstream, in its context
    tree = nginx_tree.site_tree(CONF, "/v/b.conf", read, glob_func)
    assert list(tree.files) == paths
    assert tree.texts["/v/a.conf"] == FILES["/v/a.conf"].decode()
    assert tree.reachable("/v/b.conf") == {"/v/b.conf", "/c/rewrite/b.conf"}


def test_tree_places_included_directives_under_the_including_block():
    tree = nginx_tree.Tree({"/v/s.conf": b"server { location / { include r.conf; } }\n",
                            "/c/r.conf": b"uwsgi_pass up;\n"}, "/c")
    assert [r.d.filename for r in tree.roots] == ["/v/s.conf"]
    node = next(n for n in tree.nodes if n.name == "uwsgi_pass")
    assert node.file == "/c/r.conf" and node.parent.name == "location"
    assert node.via.name == "include" and tree.context_of(node) == "location"
    assert tree.context_of(node.enclosing("server")) == "http"  # a vhost is read inside http {}


def test_one_loader_for_many_starts_reports_each_its_own_problems():
    files = {"/v/a.conf": b"server { include missing.conf; }\n",
             "/v/b.conf": b"server { include missing.conf; include x.conf; }\n",
             "/c/x.conf": b"location / { }\n"}
    loader = nginx_tree.Loader(files.__getitem__, "/c", tolerate=(KeyError,))
    assert loader.tree("/v/a.conf")[1] == [("/c/missing.conf", "'/c/missing.conf'")]
    tree, problems = loader.tree("/v/b.conf")
    assert [p for p, _ in tree] == ["/v/b.conf", "/c/x.conf"]
    assert [p for p, _ in problems] == ["/c/missing.conf"]
    assert loader.tree("/c/x.conf")[1] == []
