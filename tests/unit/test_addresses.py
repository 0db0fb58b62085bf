"""addresses: the one place where backend and listen addresses are compared."""
import pytest

from gunicorn_switch_core import addresses as a


@pytest.mark.parametrize("raw,expected", [
    ("127.0.0.1:8000", "127.0.0.1:8000"),
    (" http://127.0.0.1:8000/ ", "127.0.0.1:8000"),
    ("http://localhost:8000/app/", "127.0.0.1:8000"),
    ("localhost", "127.0.0.1"),
    ("uwsgi://10.0.0.2:3031", "10.0.0.2:3031"),
    ("suwsgi://10.0.0.2:3031", "10.0.0.2:3031"),
    ("unix:/run/x.sock", "unix:/run/x.sock"),
    ("http://unix:/run/x.sock:/uri", "unix:/run/x.sock"),
    ("0.0.0.0:8000", "0.0.0.0:8000"),  # a listener's any-address is kept
    ("backend", "backend"),
])
def test_normalize(raw, expected):
    assert a.normalize(raw) == expected


@pytest.mark.parametrize("spelling", ["127.0.0.1:8001", "localhost:8001", "0.0.0.0:8001",
                                      ":8001", "*:8001", "[::]:8001", "[::1]:8001",
                                      "uwsgi://127.0.0.1:8001", "http://localhost:8001/x"])
def test_loopback_spellings_are_one_backend(spelling):
    assert a.backend_key(spelling) == "127.0.0.1:8001"
    assert a.same_backend(spelling, "127.0.0.1:8001")


def test_backend_keys_of_sockets_and_names():
    assert a.same_backend("/run/x.sock", "unix:/run/x.sock")
    assert a.same_backend("http://unix:/run/x.sock:/", "unix:/run/x.sock")
    assert not a.same_backend("unix:/run/x.sock", "unix:/run/y.sock")
    assert a.backend_key("backend") == "backend"
    assert not a.same_backend("10.0.0.2:8001", "127.0.0.1:8001")
    assert not a.same_backend("127.0.0.1:8002", "127.0.0.1:8001")


def test_listen_matches():
    m = a.listen_matches
    assert m("127.0.0.1:8000", "0.0.0.0:8000")
    assert m("127.0.0.1:8000", "[::]:8000")
    assert m("10.0.0.2:8000", "*:8000")
    assert m("127.0.0.1:8000", "127.0.0.1:8000")
    assert not m("127.0.0.1:8000", "127.0.0.1:8001")
    assert m("unix:/a", "unix:/a") and not m("unix:/a", "unix:/b")
    assert not m("unix:/a", "0.0.0.0:8000")
    assert not m("10.0.0.2:8000", "127.0.0.1:8000")


@pytest.mark.parametrize("host", ["", "*", "0.0.0.0", "[::]", "::"])
def test_any_hosts(host):
    assert a.is_any_host(host)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.0.0.1", "[::1]"])
def test_not_any_hosts(host):
    assert not a.is_any_host(host)


@pytest.mark.parametrize("bind,expected", [
    ("127.0.0.1:9001", "127.0.0.1:9001"), (":9001", "127.0.0.1:9001"),
    (" /run/g.sock ", "unix:/run/g.sock"), ("unix:/run/g.sock", "unix:/run/g.sock"),
])
def test_bind_address(bind, expected):
    assert a.bind_address(bind) == expected


def test_unix_path_and_proxy_pass():
    assert a.unix_path("unix:/run/g.sock") == "/run/g.sock"
    assert a.unix_path("127.0.0.1:9001") is None
    assert a.proxy_pass_for("unix:/run/g.sock") == "http://unix:/run/g.sock:"
    assert a.proxy_pass_for("127.0.0.1:9001") == "http://127.0.0.1:9001"


def test_tcp_address():
    assert a.tcp_address("unix:/run/g.sock") is None
    assert a.tcp_address("127.0.0.1:9001") == ("127.0.0.1", 9001)
    assert a.tcp_address(":9001") == ("127.0.0.1", 9001)
    assert a.tcp_address("[::1]:9001") == ("::1", 9001)


def test_upstream_name_keeps_names():
    assert a.upstream_name("uwsgi://backend") == "backend"
    assert a.upstream_name("http://backend/app/") == "backend"
    assert a.upstream_name("localhost") == "localhost"  # an upstream may be called that
    assert a.upstream_name("$backend") == "$backend"


def test_split_proxy_url():
    assert a.split_proxy_url("http://127.0.0.1:8000/app/") == ("http://", "127.0.0.1:8000", "/app/")
    assert a.split_proxy_url("https://up") == ("https://", "up", "")
    assert a.split_proxy_url("http://unix:/run/g.sock:/x") == ("http://", "unix:/run/g.sock:", "/x")
    assert a.split_proxy_url("backend") == (None, "backend", "")


@pytest.mark.parametrize("listen,expected", [
    ("80", "127.0.0.1:80"), ("*:80", "127.0.0.1:80"), ("0.0.0.0:8080", "127.0.0.1:8080"),
    ("[::]:80", "127.0.0.1:80"), ("10.0.0.1:80", "10.0.0.1:80"),
    ("unix:/run/n.sock", None), ("٣", None),
])
def test_listen_to_loopback(listen, expected):
    assert a.listen_to_loopback(listen) == expected
