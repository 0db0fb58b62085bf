"""uWSGI's four config formats, each read the way uWSGI 2.0's own loader reads it (core/ini.c,
core/yaml.c, core/json.c, core/xmlconf.c): every option found goes to ``reader.add`` with its
file and line, so that includes, placeholders and logic blocks apply as they do in uWSGI."""
import json
import xml.parsers.expat

from .uwsgi_model import UwsgiConfigError
from .uwsgi_options import EXTENSIONS


def split_section(spec):
    """``file.ini:section`` -> (file, section); the last ``:`` after the last ``/`` splits."""
    slash = spec.rfind("/")
    colon = spec.rfind(":")
    if colon > slash and colon >= 0:
        return spec[:colon], spec[colon + 1:]
    return spec, None


def loader_for(path):
    for ext, kind in EXTENSIONS:
        if path.endswith(ext):
            return kind
    return None


def parse_ini(reader, text, path, section):
    current = None
    found = False
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.strip(" \t\r")
        if not line:
            continue
        if line.startswith("["):
            current = line[1:-1] if len(line) > 1 else ""
            if current == section:
                found = True
            continue
        if current != section:
            continue
        if line[0] in ";#":
            continue
        key, eq, value = line.partition("=")
        key = key.strip(" \t")
        value = value.strip(" \t") if eq else ""
        if not key:
            reader.warn("line with an empty key ignored", path, lineno)
            continue
        reader.add(key, value, path, lineno)
    if not found:
        hint = ""
        if text.startswith("\ufeff"):
            hint = " (the file starts with a UTF-8 BOM, which uWSGI does not strip)"
        raise UwsgiConfigError(f"can't find section [{section}]{hint}", path, 1)


def parse_yaml(reader, text, path, section):
    """uWSGI's embedded line parser (core/yaml.c), not real YAML."""
    inside = False
    found = False
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw.split("#", 1)[0].rstrip(" \t\r")
        if not line.strip() or line.startswith(("---", "...")):
            continue
        indent = len(line) - len(line.lstrip(" \t"))
        body = line.strip()
        if not inside:
            if indent == 0 and body == section + ":":
                inside = found = True
            continue
        if indent == 0 or body[0] in "-[{":
            inside = False
            continue
        sep = None
        for s in (": ", ":\t"):
            pos = body.find(s)
            if pos >= 0 and (sep is None or pos < sep[0]):
                sep = (pos, s)
        if sep is None:
            if body.endswith(":"):
                inside = False
                continue
            reader.warn(f"YAML line {body!r} has no 'key: value'; uWSGI ignores it",
                        path, lineno)
            continue
        key = body[:sep[0]].strip()
        value = body[sep[0] + len(sep[1]):].strip(" \t")
        reader.add(key, value, path, lineno)
    if not found:
        raise UwsgiConfigError(f"can't find section {section}: in YAML file", path, 1)


def parse_json(reader, text, path, section):
    try:
        doc = json.loads(text)
    except ValueError as e:
        raise UwsgiConfigError(f"invalid JSON: {e}", path, getattr(e, "lineno", None)) from None
    if not isinstance(doc, dict) or section not in doc:
        raise UwsgiConfigError(f"no \"{section}\" object at the top of the JSON file", path, 1)
    body = doc[section]
    if not isinstance(body, dict):
        raise UwsgiConfigError(f"\"{section}\" is not a JSON object", path, 1)
    pos = 0
    for key, value in body.items():
        at = text.find(json.dumps(key), pos)
        if at >= 0:
            pos = at + 1
        lineno = text.count("\n", 0, max(at, 0)) + 1
        values = value if isinstance(value, list) else [value]
        for v in values:
            if v is True:
                v = "1"
            elif v is False or v is None:
                v = "0"
            elif isinstance(v, (int, float)):
                v = json.dumps(v)
            elif not isinstance(v, str):
                reader.warn(f"JSON value of {key} is an object; uWSGI ignores it",
                            path, lineno)
                continue
            reader.add(key, v, path, lineno)


class _RefuseDTD(Exception):
    pass


def _xml_tree(text, path):
    """A minimal element tree with line numbers, from expat with DTDs refused."""
    parser = xml.parsers.expat.ParserCreate()
    root = {"children": []}
    stack = [root]

    def start(tag, attrs):
        node = {"tag": tag, "attrs": attrs, "line": parser.CurrentLineNumber,
                "text": None, "cdata": False, "children": []}
        stack[-1]["children"].append(node)
        stack.append(node)

    def end(tag):
        stack.pop()

    def chars(data):
        # uWSGI takes the first child text node only (not trimmed).
        if len(stack) > 1 and stack[-1]["text"] is None and not stack[-1]["children"]:
            stack[-1]["text"] = data

    def cdata_start():
        if len(stack) > 1:
            stack[-1]["cdata"] = True

    def refuse(*a):
        raise _RefuseDTD()

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.StartCdataSectionHandler = cdata_start
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        parser.Parse(text, True)
    except _RefuseDTD:
        raise UwsgiConfigError("XML with DOCTYPE/ENTITY declarations is refused",
                               path, parser.CurrentLineNumber) from None
    except xml.parsers.expat.ExpatError as e:
        raise UwsgiConfigError(f"invalid XML: {xml.parsers.expat.ErrorString(e.code)}",
                               path, e.lineno) from None
    return root["children"][0]


def parse_xml(reader, text, path, ident):
    upper = text.upper()
    if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        raise UwsgiConfigError("XML with DOCTYPE/ENTITY declarations is refused "
                               "(entity expansion)", path, _line_of(text, "<!"))
    top = _xml_tree(text, path)

    def wanted(node):
        return node["tag"] == "uwsgi" and (ident is None or node["attrs"].get("id") == ident)

    block = top if wanted(top) else next((c for c in top["children"] if wanted(c)), None)
    if block is None:
        raise UwsgiConfigError("no <uwsgi%s> block in XML file"
                               % (f' id="{ident}"' if ident else ""), path, top["line"])
    for node in block["children"]:
        tag, attrs, lineno, value = node["tag"], node["attrs"], node["line"], node["text"]
        if "mode" in attrs:
            reader.warn(f"<{tag} mode=...> depends on --mode; ignored", path, lineno)
            continue
        if node["cdata"]:
            reader.warn(f"<{tag}> with CDATA is evaluated as Python by uWSGI; not supported", path, lineno)
            continue
        if not value:
            value = "1"
        if tag == "app" and "mountpoint" in attrs:
            reader.add("mount", "{}={}".format(attrs["mountpoint"], value), path, lineno)
        elif tag == "app" and "domain" in attrs:
            reader.add("mount", "{}|={}".format(attrs["domain"], value), path, lineno)
        else:
            reader.add(tag, value, path, lineno)


def _line_of(text, needle):
    at = text.upper().find(needle.upper())
    return text.count("\n", 0, max(at, 0)) + 1

