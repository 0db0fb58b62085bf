"""The tokenizer keeps every byte, and refuses what nginx would refuse, naming file and line."""
import os
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "plugin"))

from gunicorn_switch_core.nginx_tokens import (  # noqa: E402
    COMMENT, LUA, MAX_BYTES, WORD, NginxConfigError, decode, encode, parse, tokenize, unquote)

# pieces that real configs are made of, glued at random
PIECES = ["server", "location", "/", "{", "}", ";", " ", "\t", "\n", "\r\n", "# 注释 {\n",
          '"a b;{}"', "'q\\'x'", "\\;", "$var", "${v}x", "uwsgi_pass", "127.0.0.1:8001",
          "content_by_lua_block", "a}b", "a#b", "中文", "\xff"]


def pieces():
    return st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


@given(st.binary(max_size=400))
@settings(max_examples=300)
def test_any_bytes_round_trip_through_text(data):
    assert encode(decode(data)) == data


def _covered(text, tokens):
    """Tokens are in order, do not overlap, and what lies between them is whitespace."""
    pos = 0
    for t in tokens:
        assert t.start >= pos
        assert text[pos:t.start].strip(" \t\r\n") == ""
        assert text[t.start:t.end] == t.text
        pos = t.end
    assert text[pos:].strip(" \t\r\n") == ""


@given(st.one_of(pieces(), st.text(max_size=200)))
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
def test_tokens_cover_the_input_byte_for_byte(text):
    try:
        tokens = tokenize(text)
    except NginxConfigError:
        return
    _covered(text, tokens)
    # and re-joining tokens with the gaps gives the input back
    out, pos = [], 0
    for t in tokens:
        out.append(text[pos:t.start])
        out.append(t.text)
        pos = t.end
    out.append(text[pos:])
    assert "".join(out) == text


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_random_bytes_either_tokenize_losslessly_or_raise_cleanly(data):
    try:
        tokens = tokenize(data)
    except NginxConfigError as e:
        assert e.filename == "<string>"
        return
    _covered(decode(data), tokens)


def test_parse_tree_spans_and_args():
    text = ('server {\n    listen 80;\n    location "/a b" {\n'
            '        uwsgi_param X "v;{}";  # c\n    }\n}\n')
    cfg = parse(text, "v.conf")
    (server,) = cfg.directives
    assert server.name == "server" and server.block[0].args == ["80"]
    loc = server.block[1]
    assert loc.args == ["/a b"]
    param = loc.block[0]
    assert param.args == ["X", "v;{}"]
    assert text[param.start:param.end] == 'uwsgi_param X "v;{}";'
    assert [text[s:e] for s, e in param.arg_spans] == ["X", '"v;{}"']
    assert param.parent is loc and param.line == 4
    assert text[server.start:server.end] == text.rstrip("\n")


def test_word_rules_follow_nginx():
    words = [t.text for t in tokenize("a}b c#d ${x}y 'e f' \\;g;") if t.kind == WORD]
    assert words == ["a}b", "c#d", "${x}y", "'e f'", "\\;g"]
    assert unquote("'e\\'f'") == "e'f" and unquote('"a\\"b"') == 'a"b'
    assert unquote("\\;g") == "\\;g"


def test_lua_block_is_opaque():
    text = ('content_by_lua_block {\n  local t = { a = "}" } -- }\n'
            '  local s = [==[ } ]==]\n  --[[ } ]]\n}\nlisten 80;\n')
    tokens = tokenize(text)
    lua = [t for t in tokens if t.kind == LUA]
    assert len(lua) == 1 and '"}"' in lua[0].text
    cfg = parse(text)
    assert [d.name for d in cfg.directives] == ["content_by_lua_block", "listen"]
    assert cfg.directives[0].lua is not None


def test_comments_are_tokens():
    kinds = [(t.kind, t.text) for t in tokenize("a; # x {\r\nb;")]
    assert (COMMENT, "# x {") in kinds


@pytest.mark.parametrize("text,message,line", [
    ("server {\n  listen 80;\n", 'expecting "}"', 1),
    ("server {\n}\n}\n", 'unexpected "}"', 3),
    ('a "b;\n\n', "unterminated quoted string", 1),
    ("a;\nb\n", 'expecting ";" or "}"', 2),
    ("\n;\n", 'unexpected ";"', 2),
    ("a\n\0b;", "NUL", 2),
    ('a "b"c;', "after quoted string", 1),
    ("content_by_lua_block {\n x = '\n}", "unterminated Lua string", 2),
    ("content_by_lua_block {\n x = 1\n", "end of file in Lua block", 1),
])
def test_bad_input_raises_with_file_and_line(text, message, line):
    with pytest.raises(NginxConfigError) as e:
        parse(text.encode(), "/www/x.conf")
    assert message in str(e.value)
    assert e.value.filename == "/www/x.conf" and e.value.line == line
    assert str(e.value).startswith("/www/x.conf:%d: " % line)


def test_over_one_megabyte_is_refused():
    data = b"# pad\n" * (MAX_BYTES // 6 + 1)
    with pytest.raises(NginxConfigError) as e:
        tokenize(data, "/big.conf")
    assert "larger than" in str(e.value) and e.value.filename == "/big.conf"
