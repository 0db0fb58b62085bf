"""uWSGI's substitutions: the per-file magic variables (``%d``, ``%n``...), applied as each file
is read, and the three passes over every value once all files are read, in uWSGI's order
(core/utils.c uwsgi_apply_config_pass): ``$(ENV)``, then ``@(file)``, then ``%(placeholder)``
with its arithmetic."""
import os

from . import safe_files
from .uwsgi_model import MAX_BYTES, UwsgiConfigError
from .uwsgi_options import RUNTIME_MAGIC, UPPER_MAGIC
from .uwsgi_values import atoi

# the uWSGI release whose reading this reproduces (what %V gives)
UWSGI_VERSION = "2.0.31"


def magic_table(real, given, section, cwd, hostname):
    """Per-file magic variables (core/uwsgi.c config_magic_table_fill)."""
    p = os.path.abspath(given if os.path.isabs(given) else os.path.join(cwd, given))
    if not os.path.islink(p):
        p = os.path.realpath(p)
    d, s = os.path.split(p)
    n, dot, e = s.rpartition(".")
    if not dot:
        n, e = s, ""
    parts = [x for x in d.split("/") if x]
    table = {
        "p": p, "d": d.rstrip("/") + "/", "s": s, "n": n, "e": e,
        "c": os.path.basename(d), "x": section or "", "o": given,
        "v": cwd, "h": hostname, "V": UWSGI_VERSION, "k": str(os.cpu_count() or 1),
        "[": "\x1b",
    }
    for i in range(10):
        table[str(i)] = parts[i] if i < len(parts) else ""
    try:
        st = os.stat(real)
        table["i"] = str(st.st_ino)
    except OSError:
        table["i"] = ""
    h = 5381
    for ch in p.encode("utf-8"):
        h = ((h * 33) ^ ch) & 0xFFFFFFFF
    table["j"] = str(h)
    return table


class Expansion:
    """The substitutions, mixed into the reader: they use its ``env``, ``cwd``, ``options``,
    ``user``, ``first_magic``, ``referenced``, ``warn()`` and ``readable()``."""

    def magic_sub(self, text, table, path):
        """``text`` of one file with its magic variables replaced, as uWSGI does on reading."""
        out = []
        i = 0
        n = len(text)
        unknown = set()
        while i < n:
            c = text[i]
            if c != "%" or i + 1 >= n:
                out.append(c)
                i += 1
                continue
            nxt = text[i + 1]
            if nxt == "%":
                out.append("%")
            elif nxt == "(":
                out.append("%(")
            elif nxt.isupper() and nxt in UPPER_MAGIC and self.first_magic is not None:
                out.append(self.first_magic.get(nxt.lower(), ""))
            elif nxt in table:
                out.append(table[nxt])
            elif nxt in RUNTIME_MAGIC:
                if nxt not in unknown:
                    unknown.add(nxt)
                    self.warn(f"%{nxt} depends on the running uWSGI process (user, start time, "
                              "binary); read as empty", path, text.count("\n", 0, i) + 1)
            else:
                # uWSGI's magic table starts as "" for every byte: unknown %X vanishes.
                if nxt not in unknown:
                    unknown.add(nxt)
                    lineno = text.count("\n", 0, i) + 1
                    self.warn(f"%{nxt} is not a uWSGI magic variable; uWSGI replaces it with "
                              "an empty string (write %% for a literal %)",
                              path, lineno)
            i += 2
        return "".join(out)

    def substitute(self, options):
        for opt in options:
            opt.value = self.pass_sub(opt, "$", self.env_value)
        for opt in options:
            opt.value = self.pass_sub(opt, "@", self.at_value)
        for opt in options:
            opt.value = self.pass_sub(opt, "%", self.placeholder_value)

    def pass_sub(self, opt, symbol, hook):
        value = opt.value
        if symbol + "(" not in value:
            return value
        out = []
        i = 0
        while i < len(value):
            if value.startswith(symbol + "(", i):
                end = value.find(")", i + 2)
                if end < 0:
                    out.append(value[i:])
                    break
                inner = value[i + 2:end]
                got = hook(inner, opt)
                out.append(value[i:end + 1] if got is None else got)
                i = end + 1
            else:
                out.append(value[i])
                i += 1
        return "".join(out)

    def env_value(self, name, opt):
        if name in self.env:
            return self.env[name]
        if ":-" in name or "-" in name:
            self.warn(f"$({name}): defaults in $() exist only in uWSGI 2.1-dev; uWSGI 2.0 "
                      "leaves it literally", opt.path, opt.line)
        else:
            self.warn(f"$({name}) is not set in the environment given; uWSGI leaves it "
                      "literally", opt.path, opt.line)
        return None

    def at_value(self, name, opt):
        if "://" in name:
            self.warn(f"@({name}) reads from a uWSGI scheme; not evaluated, left literally", opt.path, opt.line)
            return None
        real = os.path.join(self.cwd, name)
        if not self.readable(real):
            self.warn(f"{opt.key} = @({name}): {real} cannot be read by the site's user "
                      f"{self.user.name}; refused, left literally", opt.path, opt.line)
            return None
        try:
            data = safe_files.read_bytes(real, MAX_BYTES)
        except OSError:
            raise UwsgiConfigError(f"@({name}): cannot read {real}", opt.path, opt.line) from None
        if len(data) > MAX_BYTES or b"\0" in data:
            raise UwsgiConfigError(f"@({name}): {real} is binary or too large",
                                   opt.path, opt.line)
        text = data.decode("utf-8", "replace")
        return text[:-1] if text.endswith("\n") else text

    def placeholder_value(self, inner, opt):
        if " " in inner:
            return self.math(inner, opt)
        self.referenced.add(inner)
        for o in self.options:
            if o.key == inner:
                return o.value
        if inner != "_":
            self.warn(f"%({inner}) is not defined; uWSGI leaves it literally",
                      opt.path, opt.line)
        return None

    def lookup(self, token):
        self.referenced.add(token)
        for o in self.options:
            if o.key == token:
                return o.value
        return token

    def math(self, inner, opt):
        """uWSGI >= 1.9.20 placeholder arithmetic: a left-to-right token pipeline."""
        acc = None
        op = None
        for tok in inner.split():
            if tok in ("+", "-", "*", "/"):
                op = tok
                continue
            if tok in ("++", "--"):
                acc = str(atoi(acc) + (1 if tok == "++" else -1))
                continue
            val = self.lookup(tok)
            if acc is None:
                acc = val
            elif op is None:
                acc = acc + val
            else:
                a, b = atoi(acc), atoi(val)
                if op == "+":
                    acc = str(a + b)
                elif op == "-":
                    acc = str(a - b)
                elif op == "*":
                    acc = str(a * b)
                else:
                    acc = str(a // b if b else 0)
                op = None
        return acc if acc is not None else ""
