"""The editor changes the directives it is told to, and not one byte elsewhere."""
import os
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "plugin"))

from gunicorn_switch_core.nginx_edit import Editor, quote  # noqa: E402
from gunicorn_switch_core.nginx_tokens import NginxConfigError, parse  # noqa: E402

NAMES = st.sampled_from(["listen", "uwsgi_pass", "include", "root", "proxy_set_header", "x"])
ARGS = st.lists(st.sampled_from(["80", "a", '"q x"', "'y;'", "$h", "中文"]), max_size=3)
SPACE = st.sampled_from([" ", "  ", "\t", "\n", "\r\n", "\n\n", " # 注释\n", "\n    "])


@st.composite
def configs(draw, depth=0):
    """A valid config as text, built from random directives, blocks, comments and spacing."""
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        parts.append(draw(SPACE))
        name = draw(NAMES)
        args = draw(ARGS)
        head = " ".join([name] + args)
        if depth < 2 and draw(st.booleans()):
            inner = draw(configs(depth=depth + 1))
            parts.append("%s%s{%s%s}" % (head, draw(SPACE), inner, draw(SPACE)))
        else:
            parts.append(head + draw(st.sampled_from([";", " ;", "\n;"])))
    parts.append(draw(SPACE))
    return "".join(parts)


def outside(text, spans):
    """The text with the given spans cut out."""
    out, pos = [], 0
    for s, e in sorted(spans):
        out.append(text[pos:s])
        pos = e
    out.append(text[pos:])
    return "".join(out)


@given(configs(), st.data())
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_editor_touches_only_the_edited_spans(text, data):
    cfg = parse(text)
    directives = list(cfg.walk())
    if not directives:
        return
    ed = Editor(text)
    picked = data.draw(st.lists(st.sampled_from(directives), max_size=3, unique_by=id))
    # keep one edit per directive and no edit inside another edited directive
    chosen = []
    for d in picked:
        if all(d.end <= c.start or d.start >= c.end for c in chosen):
            chosen.append(d)
    ops = []
    for d in chosen:
        op = data.draw(st.sampled_from(["replace", "rename", "delete", "after", "before",
                                        "into"]))
        if op == "into" and d.block is None:
            op = "rename"
        ops.append((d, op))
        if op == "replace":
            ed.replace(d, ["proxy_pass http://127.0.0.1:9001;", "proxy_set_header Host $host;"])
        elif op == "rename":
            ed.rename(d, "renamed")
        elif op == "delete":
            ed.delete(d)
        elif op == "after":
            ed.insert_after(d, ["new_after 1;"])
        elif op == "before":
            ed.insert_before(d, ["new_before 1;"])
        else:
            ed.insert_into(d, ["new_inside 1;"], at_end=data.draw(st.booleans()))
    changes = ed.changes()
    new = ed.result_text()
    # every change lies within (or, for whole-line deletes, on the lines of) its directive
    for start, end, _ in changes:
        owner = [d for d, _ in ops if ed.line_start(d.start) <= start
                 and end <= max(d.end, ed.line_end(d.end) + 2)]
        assert owner, (start, end)
    old_spans = [(s, e) for s, e, _ in changes]
    new_spans = []
    shift = 0
    for s, e, r in changes:
        new_spans.append((s + shift, s + shift + len(r)))
        shift += len(r) - (e - s)
    assert outside(text, old_spans) == outside(new, new_spans)
    parse(new)  # the result is still a well-formed config


def test_new_lines_follow_crlf_and_indentation():
    text = "server {\r\n\tlocation / {\r\n\t\tuwsgi_pass a;  # 后端\r\n\t}\r\n}\r\n"
    cfg = parse(text)
    uw = cfg.directives[0].block[0].block[0]
    ed = Editor(text)
    ed.replace(uw, ["proxy_pass http://b;"])
    ed.insert_after(uw, ["proxy_set_header Host $http_host;"])
    assert ed.result_text() == ("server {\r\n\tlocation / {\r\n\t\tproxy_pass http://b;  # 后端"
                                "\r\n\t\tproxy_set_header Host $http_host;\r\n\t}\r\n}\r\n")


def test_delete_takes_the_whole_line_only_when_alone():
    text = "a {\n    x 1;\n    y 2; z 3;\n    w 4; # keep\n}\n"
    cfg = parse(text)
    x, y, _, w = cfg.directives[0].block
    ed = Editor(text)
    ed.delete(x)
    ed.delete(y)
    ed.delete(w)
    assert ed.result_text() == "a {\n    z 3;\n    # keep\n}\n"


def test_insert_into_block_uses_child_indent():
    text = "u {\n  server a;\n}\nv {}\n"
    u, v = parse(text).directives
    ed = Editor(text)
    ed.insert_into(u, ["keepalive 16;"])
    ed.insert_into(v, ["x 1;"])
    assert ed.result_text() == "u {\n  server a;\n  keepalive 16;\n}\nv {x 1; }\n"


def test_overlapping_edits_are_a_bug():
    text = "a 1;\n"
    d = parse(text).directives[0]
    ed = Editor(text)
    ed.replace(d, ["b 2;"])
    ed.rename(d, "c")
    try:
        ed.result_text()
    except NginxConfigError as e:
        assert "overlapping" in str(e)
    else:
        raise AssertionError("overlap not detected")


def test_quote():
    assert quote("/a/b") == "/a/b"
    assert quote("/a b/") == '"/a b/"'
    assert quote('x"y;') == '"x\\"y;"'
    assert quote("") == '""'
