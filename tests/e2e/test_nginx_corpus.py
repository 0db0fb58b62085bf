"""Every vhost shape of tests/corpus/nginx, rewritten and checked by a real ``nginx -t``.

Each case is laid out under a temporary prefix with a Baota-like main nginx.conf; the original
must pass ``nginx -t``, the rewrite must pass both the staged check (``nginx_stage``) and a plain
``nginx -t`` once written, must match its golden files, must be idempotent, and may only have
removed lines that held a directive we rewrite.
"""
import collections
import difflib
import os
import subprocess
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "plugin"))

from gunicorn_switch_core import nginx_tokens  # noqa: E402
from gunicorn_switch_core.nginx_stage import stage_and_test  # noqa: E402
from gunicorn_switch_core.nginx_translate import Tree, find_site_files, translate_site  # noqa: E402
from tests.corpus.nginx_cases import (  # noqa: E402
    CASES, CORPUS, LUA_MODULES, NGINX, edited_lines, lay_out, vhost_of)

pytestmark = pytest.mark.skipif(not os.path.exists(NGINX), reason="needs Debian nginx")


@pytest.fixture(scope="session")
def certificate(tmp_path_factory):
    d = tmp_path_factory.mktemp("cert")
    cert, key = str(d / "cert.pem"), str(d / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def nginx_t(prefix, conf):
    proc = subprocess.run([NGINX, "-t", "-p", prefix, "-c", conf], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT)
    return proc.returncode == 0, proc.stdout.decode("utf-8", "replace")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def comments(data):
    return collections.Counter(t.text for t in nginx_tokens.tokenize(data)
                               if t.kind == nginx_tokens.COMMENT)


def site_texts(root):
    out = {}
    for dirpath, _, names in os.walk(os.path.join(root, "www/server/panel")):
        for name in names:
            out[os.path.join(dirpath, name)] = read(os.path.join(dirpath, name))
    http_conf = os.path.join(root, "www/server/nginx/conf/http.conf")
    if os.path.exists(http_conf):
        out[http_conf] = read(http_conf)
    return out


@pytest.mark.parametrize("case", CASES)
def test_corpus_case(case, tmp_path, certificate):
    root = str(tmp_path)
    spec, main = lay_out(case, root, certificate)
    if spec.get("lua") and not all(os.path.exists(m) for m in LUA_MODULES):
        pytest.skip("needs libnginx-mod-http-lua")
    prefix = os.path.join(root, "www/server/nginx") + "/"
    ok, out = nginx_t(prefix, main)
    assert ok, "the corpus file itself is not valid nginx:\n" + out

    def moved(p):
        return p.replace("/www/", root + "/www/")

    paths = find_site_files(main, vhost_of(root))
    files = dict((p, read(p)) for p in paths)
    static_maps = [(m, moved(d)) for m, d in spec.get("static_maps", [])]
    result = translate_site(files, spec["bind"], spec.get("hint"), static_maps,
                            spec.get("websocket"), vhost=vhost_of(root))
    assert result.changed, result.warnings
    assert set(result.new_files) <= set(files)

    ok, out = stage_and_test(NGINX, main, result.new_files, prefix=prefix)
    assert ok, out
    before = site_texts(root)
    for path, data in result.new_files.items():
        with open(path, "wb") as f:
            f.write(data)
    ok, out = nginx_t(prefix, main)
    assert ok, out

    after = site_texts(root)
    joined = b"\n".join(after[p] for p in sorted(after)).decode("utf-8", "surrogateescape")
    joined = joined.replace(root + "/www/", "/www/")
    for s in spec.get("expect", []):
        assert s in joined, s
    for s in spec.get("expect_not", []):
        assert s not in joined, s
    for s in spec.get("warn", []):
        assert any(s in w for w in result.warnings), (s, result.warnings)
    for rel in spec.get("untouched", []):
        p = os.path.join(root, rel)
        assert before[p] == after[p], rel
    if spec.get("crlf"):
        for data in result.new_files.values():
            assert data.count(b"\n") == data.count(b"\r\n")

    for path, data in result.new_files.items():
        old = files[path]
        assert comments(old) - comments(data) == collections.Counter(), path
        old_lines = old.decode("utf-8", "surrogateescape").splitlines()
        new_lines = data.decode("utf-8", "surrogateescape").splitlines()
        editable = edited_lines(old)
        matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
        for tag, i1, i2, _, _ in matcher.get_opcodes():
            if tag in ("replace", "delete"):
                for i in range(i1, i2):
                    assert i + 1 in editable, "unrelated line %d changed: %r" % (
                        i + 1, old_lines[i])

    # every switched location hands Django the client's Host
    tree = Tree(dict((p, read(p)) for p in paths), os.path.dirname(main))
    for node in tree.nodes:
        if node.name == "proxy_pass" and node.file in result.new_files:
            loc = node.enclosing("location")
            headers = [k.args[0].lower() for k in _effective(loc, "proxy_set_header")]
            assert "host" in headers, (node.file, node.d.line)

    again = translate_site(dict((p, read(p)) for p in paths), spec["bind"], spec.get("hint"),
                           static_maps, spec.get("websocket"), vhost=vhost_of(root))
    assert not again.changed, again.diffs

    expected_dir = os.path.join(CORPUS, case, "expected")
    for path, data in sorted(result.new_files.items()):
        rel = os.path.relpath(path, root)
        golden = os.path.join(expected_dir, rel)
        portable = data.replace(root.encode() + b"/www/", b"/www/")
        if os.environ.get("UPDATE_GOLDEN"):
            os.makedirs(os.path.dirname(golden), exist_ok=True)
            with open(golden, "wb") as f:
                f.write(portable)
        assert os.path.exists(golden), "no golden file %s (UPDATE_GOLDEN=1)" % golden
        assert read(golden) == portable, rel


def _effective(loc, name):
    node = loc
    while node is not None:
        here = [k for k in node.kids if k.name == name]
        if here:
            return here
        node = node.parent
    return []
