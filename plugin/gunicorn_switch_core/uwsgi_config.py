"""Read a uWSGI configuration the way uWSGI 2.0 itself does.

The result is the ordered option list uWSGI builds internally (``add_exported_option``), after
its immediate options (includes, ``set``, logic blocks) and its three substitution passes
(``$()``, ``@()``, ``%()``). Every option keeps where it came from. Nothing is executed and
nothing is written: the only side effect is reading the configuration files (and, for
``if-exists``/``for-glob``/``@(file)``, looking at the files they name).

Where uWSGI would do something we cannot or must not reproduce (``@(exec://...)``,
``@(http://...)``, XML ``eval``) the reader records a warning naming file and line. Input that
uWSGI would refuse, or that is unsafe to read, raises ``UwsgiConfigError``.

Reference: notes/uwsgi-to-gunicorn.md §1 (core/ini.c, core/yaml.c, core/xmlconf.c, core/json.c,
core/config.c, core/utils.c of the uwsgi-2.0 branch).
"""
import glob
import json
import os
import socket
import re
import xml.parsers.expat

from . import safe_files

MAX_BYTES = 1024 * 1024
# uWSGI has no include limit of its own (it recurses until the stack dies); a real config
# never nests this deep, so deeper means a loop we failed to spot by name.
MAX_DEPTH = 32
UWSGI_VERSION = "2.0.31"
CMDLINE = "<command line>"
ENVIRON = "<environment>"

LOADERS = {"ini": "ini", "xml": "xml", "yaml": "yaml", "yml": "yaml", "json": "json", "js": "json"}
EXTENSIONS = ((".ini", "ini"), (".xml", "xml"), (".yaml", "yaml"), (".yml", "yaml"),
              (".json", "json"), (".js", "json"))
PLACEHOLDER_SETTERS = ("set", "set-placeholder", "set-ph")
LOGIC_END = ("end", "endfor", "end-for", "endif", "end-if")
LOGIC_START = (
    "for", "for-glob", "for-times", "for-readline",
    "if-env", "if-not-env", "if-exists", "if-not-exists", "if-file", "if-not-file",
    "if-dir", "if-not-dir", "if-opt", "if-not-opt", "if-reload", "if-not-reload",
    "if-plugin", "if-not-plugin", "if-hostname", "if-not-hostname", "if-hostname-match",
)
# getopt short options of uwsgi-2.0 (core/uwsgi.c option table); True = takes an argument.
SHORT_OPTIONS = {
    "s": ("socket", True), "p": ("processes", True), "M": ("master", False),
    "t": ("harakiri", True), "w": ("module", True), "H": ("home", True),
    "b": ("buffer-size", True), "C": ("chmod-socket", None), "d": ("daemonize", True),
    "l": ("listen", True), "L": ("disable-logging", False), "T": ("enable-threads", False),
    "i": ("single-interpreter", False), "R": ("max-requests", True),
    "z": ("socket-timeout", True), "x": ("xml", True), "y": ("yaml", True),
    "j": ("json", True), "S": ("set", True), "m": ("memory-report", False),
    "r": ("reaper", False), "O": ("optimize", True), "J": ("test", True),
    "A": ("sharedarea", True), "Q": ("spooler", True), "v": ("max-vars", True),
}
# Long options declared no_argument (flags) or optional_argument in uwsgi-2.0; every other
# known option requires an argument, which getopt takes from the next word even if it
# starts with "-" (this is how Baota's `uwsgi -d --ini x.ini` gets daemonize="--ini").
FLAG_OPTIONS = frozenset(["master", "vacuum", "enable-threads", "lazy-apps", "lazy", "die-on-term", "thunder-lock", "single-interpreter", "disable-logging", "memory-report", "need-app", "strict", "auto-procname", "manage-script-name", "harakiri-verbose", "no-orphans", "no-default-app", "catch-exceptions", "http-websockets", "so-keepalive", "reaper", "log-master", "log-reopen", "honour-stdin", "close-on-exec", "master-as-root", "no-site", "py-tracebacker-no-fork", "threaded-logger", "log-4xx", "log-5xx", "log-slow", "log-big", "log-sendfile", "log-ioerror", "log-zero", "memory-report", "cheap", "idle-kill", "static-gzip-all", "offload-threads-noflag", "enable-proxy-protocol", "skip-atexit", "need-plugins", "vhost", "vhost-host", "lazy-apps", "die-on-idle", "add-header-noflag", "unbit", "reuse-port", "tcp-nodelay", "no-defer-accept", "buffer-size-noflag", "ignore-sigpipe", "ignore-write-errors", "disable-write-exception", "py-call-osafterfork"])
OPTIONAL_ARG_OPTIONS = frozenset(["chmod-socket", "chmod", "log-date", "logdate", "http-keepalive"])
FALSE_WORDS = ("false", "off", "no")


class UwsgiConfigError(Exception):
    """A configuration uWSGI would refuse, or that is unsafe to read. Names file and line."""

    def __init__(self, message, path=None, line=None):
        self.path = path
        self.line = line
        self.reason = message
        where = path or "?"
        if line:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")


class Option:
    """One entry of uWSGI's ordered option list."""

    __slots__ = ("key", "line", "path", "raw", "value")

    def __init__(self, key, value, path, line, raw=None):
        self.key = key
        self.value = value
        self.path = path
        self.line = line
        self.raw = value if raw is None else raw

    @property
    def origin(self):
        return "{}:{}".format(os.path.basename(self.path) if self.path not in (CMDLINE, ENVIRON)
                          else self.path, self.line)

    def describe(self):
        """``uwsgi.ini:7 harakiri = 30``: what a generated file's comment shows."""
        return f"{self.origin} {self.key} = {self.value}"

    def as_dict(self):
        return {"key": self.key, "value": self.value, "path": self.path, "line": self.line}

    def __repr__(self):
        return f"Option({self.key!r}, {self.value!r}, {self.path}:{self.line})"


class ConfigWarning:
    __slots__ = ("line", "message", "path")

    def __init__(self, message, path=None, line=None):
        self.message = message
        self.path = path
        self.line = line

    def __str__(self):
        if self.path:
            return f"{self.path}:{self.line or 0}: {self.message}"
        return self.message

    def as_dict(self):
        return {"message": self.message, "path": self.path, "line": self.line}


class UwsgiConfig:
    """The parsed configuration: ``options`` in uWSGI's order, ``warnings``, ``files`` read."""

    def __init__(self, options, warnings, files, placeholders=()):
        self.options = options
        self.warnings = warnings
        self.files = files
        # Names used as %(name) or set with set/set-ph: user variables, not options.
        self.placeholders = frozenset(placeholders)

    def all(self, *keys):
        """Every value of a list option (``env``, ``static-map``...), in order."""
        return [o for o in self.options if o.key in keys]

    def last(self, *keys):
        """The effective entry of a scalar option: uWSGI's setters overwrite, so last wins."""
        found = self.all(*keys)
        return found[-1] if found else None

    def value(self, *keys, **kw):
        opt = self.last(*keys)
        return opt.value if opt is not None else kw.get("default")

    def has(self, *keys):
        return self.last(*keys) is not None

    def as_dict(self):
        return {"options": [o.as_dict() for o in self.options],
                "warnings": [w.as_dict() for w in self.warnings],
                "files": list(self.files)}


def is_true(value):
    """uWSGI's ``uwsgi_opt_true``: only false/off/no (any case) or exactly ``0`` are false."""
    if value is None:
        return False
    return not (value.lower() in FALSE_WORDS or value == "0")


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


class _Reader:
    def __init__(self, env, cwd, hostname, user=None, root_master=False):
        self.env = dict(env or {})
        # Read with the rights of the site's user (uid, gids, name): what it could not read
        # must not land in a world-readable conf. A root master's own top-level config may
        # be root's (/etc/uwsgi/...), if reached without a link the site's user could plant.
        self.user = user
        self.root_master = root_master
        self.cwd = cwd
        self.hostname = hostname
        self.options = []
        self.warnings = []
        self.files = []
        self.stack = []
        self.last_ini = None
        self.first_magic = None
        self.logic = None
        self.inherits = []
        self.referenced = set()
        self.placeholders = set()

    # -- warnings ---------------------------------------------------------------------
    def warn(self, message, path=None, line=None):
        self.warnings.append(ConfigWarning(message, path, line))

    # -- reading files ----------------------------------------------------------------
    def resolve(self, name, path, line):
        if "://" in name or name == "-" or name.startswith("fd:"):
            raise UwsgiConfigError(f"configuration source {name!r} is not a file; uWSGI can read "
                                   "it but this tool reads only files", path, line)
        return os.path.normpath(os.path.join(self.cwd, name))

    def readable(self, real, top=False):
        """May this file be read for the site? (see __init__)"""
        if self.user is None:
            return True
        try:
            if safe_files.user_can_read(real, self.user.uid, self.user.gids):
                return True
            if top and self.root_master:
                st = safe_files.lstat(real)
                return st is not None and st.st_uid == 0
        except OSError:
            pass
        return False

    def read_bytes(self, real, path, line, what, top=False):
        if not self.readable(real, top):
            raise UwsgiConfigError(f"{what}: {real} cannot be read by the site's user "
                                   f"{self.user.name}; refused", path, line)
        try:
            if os.path.isdir(real):
                raise UwsgiConfigError(f"{real} is a directory", path, line)
            # never through a link the site's user planted, never blocking on a FIFO
            return safe_files.read_bytes(real, MAX_BYTES)
        except OSError as e:
            raise UwsgiConfigError(f"cannot read {real}: {e.strerror or e}", path, line) from None

    def read_text(self, real, path, line, what="include", top=False):
        data = self.read_bytes(real, path, line, what, top)
        if len(data) > MAX_BYTES:
            raise UwsgiConfigError("%s is over the %d byte limit" % (real, MAX_BYTES), path, line)
        if b"\0" in data:
            raise UwsgiConfigError(f"{real} is binary (contains NUL bytes), not a configuration", real, 1)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as e:
            lineno = data[:e.start].count(b"\n") + 1
            self.warn("not valid UTF-8; undecodable bytes were replaced", real, lineno)
            return data.decode("utf-8", "replace")

    def load(self, spec, kind, path=None, line=None, default_section="uwsgi", magic=None):
        """Load one config source in place, as uWSGI's immediate ``ini=``/``xml=``... do."""
        name, section = split_section(spec)
        if kind == "ini" and name == "" and section is not None:
            if not self.last_ini:
                raise UwsgiConfigError(f"ini = :{section} with no INI file loaded before",
                                       path, line)
            name = self.last_ini
        real = self.resolve(name, path, line)
        frame = f"{real}:{section}" if section else real
        if frame in self.stack:
            raise UwsgiConfigError("include loop: {} includes {} again".format(" -> ".join(self.stack), frame), path, line)
        if len(self.stack) >= MAX_DEPTH:
            raise UwsgiConfigError("includes nested deeper than %d" % MAX_DEPTH, path, line)
        if not os.path.exists(real):
            raise UwsgiConfigError(f"included file {real} does not exist", path, line)
        text = self.read_text(real, path, line, kind, top=path in (None, CMDLINE, ENVIRON))
        if not text.strip():
            raise UwsgiConfigError(f"{real} is empty", real, 1)
        table = magic_table(real, name, section, self.cwd, self.hostname)
        if self.first_magic is None:
            self.first_magic = table
        text = self.magic_sub(text, table, real)
        self.files.append(real)
        self.stack.append(frame)
        try:
            if kind == "ini":
                self.last_ini = name
                parse_ini(self, text, real, section or default_section)
            elif kind == "xml":
                parse_xml(self, text, real, section)
            elif kind == "yaml":
                parse_yaml(self, text, real, section or default_section)
            elif kind == "json":
                parse_json(self, text, real, section or default_section)
            else:
                raise UwsgiConfigError(f"unable to load configuration from {real} (unknown type)", path, line)
        finally:
            self.stack.pop()

    def magic_sub(self, text, table, path):
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

    # -- the option funnel (core/config.c add_exported_option) ------------------------
    def add(self, key, value, path, line):
        if self.logic is not None:
            if key in LOGIC_END:
                self.logic = None
                return
            if key in LOGIC_START:
                raise UwsgiConfigError("recursive logic in options is not supported "
                                       f"({key} inside {self.logic[0]})", path, line)
            if key == "else":
                self.warn("'else' exists only in uWSGI 2.1-dev; uWSGI 2.0 treats it as a "
                          "placeholder named 'else'", path, line)
            self.run_logic(key, value, path, line)
            return
        if key in LOGIC_END:
            self.warn(f"{key} without an open for/if block is ignored", path, line)
            return
        if key in LOGIC_START:
            self.logic = (key, value, path, line)
            return
        self.apply(key, value, path, line)

    def apply(self, key, value, path, line):
        if key in LOADERS:
            self.options.append(Option(key, value, path, line))
            self.load(value, LOADERS[key], path, line)
            return
        if key == "include":
            kind = loader_for(value)
            if kind is None:
                raise UwsgiConfigError(f"unable to load configuration from {value} (include picks "
                                       "the loader by extension; use ini=/xml=... for "
                                       "file:section)", path, line)
            self.options.append(Option(key, value, path, line))
            self.load(value, kind, path, line)
            return
        if key in PLACEHOLDER_SETTERS:
            name, eq, val = value.partition("=")
            if not eq:
                self.warn(f"{key} = {value} has no '='; ignored", path, line)
                return
            self.placeholders.add(name.strip())
            self.options.append(Option(name.strip(), val, path, line))
            return
        if key in ("config",):
            self.warn(f"config = {value} uses a pluggable configurator; not read", path, line)
        self.options.append(Option(key, value, path, line))

    def run_logic(self, key, value, path, line):
        kind, arg, lpath, lline = self.logic
        for item in self.logic_items(kind, arg, lpath, lline):
            self.apply(key, value.replace("%(_)", item), path, line)

    def logic_items(self, kind, arg, path, line):
        """The ``%(_)`` values for which a line inside the block is emitted (none = skip)."""
        negate = "-not-" in kind
        if kind == "for":
            return arg.split()
        if kind == "for-glob":
            return sorted(glob.glob(os.path.join(self.cwd, arg)))
        if kind == "for-times":
            try:
                return [str(i) for i in range(1, int(arg) + 1)]
            except ValueError:
                raise UwsgiConfigError(f"for-times needs a number, got {arg!r}", path, line) from None
        if kind == "for-readline":
            real = self.resolve(arg, path, line)
            try:
                text = self.read_text(real, path, line, "for-readline")
            except UwsgiConfigError as e:
                self.warn(f"for-readline: {e.reason}; the block is skipped", path, line)
                return []
            return [x.strip() for x in text.split("\n") if x.strip()]
        if kind in ("if-env", "if-not-env"):
            name, eq, want = arg.partition("=")
            have = self.env.get(name)
            ok = have is not None and (not eq or have == want)
            return _cond(ok, negate, have or "")
        if kind in ("if-exists", "if-not-exists", "if-file", "if-not-file",
                    "if-dir", "if-not-dir"):
            real = os.path.join(self.cwd, arg)
            test = {"exists": os.path.exists, "file": os.path.isfile, "dir": os.path.isdir}
            ok = test[kind.rsplit("-", 1)[1]](real)
            return _cond(ok, negate, arg)
        if kind in ("if-opt", "if-not-opt"):
            name, eq, want = arg.partition("=")
            first = next((o for o in self.options if o.key == name), None)
            ok = first is not None and (not eq or first.value == want)
            return _cond(ok, negate, first.value if first is not None else "")
        if kind in ("if-reload", "if-not-reload"):
            return _cond(False, negate, "")
        if kind in ("if-hostname", "if-not-hostname"):
            return _cond(self.hostname == arg, negate, arg)
        if kind in ("if-plugin", "if-not-plugin"):
            ok = arg.startswith("python")
            self.warn(f"{kind} = {arg}: plugin availability is assumed (python plugins present, "
                      "others absent); check the real uWSGI build", path, line)
            return _cond(ok, negate, arg)
        self.warn(f"{kind} needs PCRE matching; block skipped", path, line)
        return []

    # -- substitution passes (core/utils.c uwsgi_apply_config_pass) --------------------
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

    def finish(self):
        if self.logic is not None:
            kind, arg, path, line = self.logic
            self.warn(f"{kind} = {arg} is never closed with end", path, line)
            self.logic = None
        self.substitute(self.options)
        # inherit is applied during uwsgi_configure(), after the passes: its options get
        # magic variables only (ParsingOrder.rst).
        done = 0
        while True:
            pending = [o for o in self.options[done:] if o.key == "inherit"]
            done = len(self.options)
            if not pending:
                break
            for o in pending:
                kind = loader_for(o.value)
                if kind is None:
                    raise UwsgiConfigError(f"unable to load configuration from {o.value}",
                                           o.path, o.line)
                self.load(o.value, kind, o.path, o.line)


UPPER_MAGIC = "OPSDCENXIJ"
RUNTIME_MAGIC = "uUgGtTb"


def _cond(ok, negate, item):
    return [item] if ok != negate else []


_ATOI = re.compile(r"^[ \t\n\r\f\v]*([+-]?[0-9]+)")


def atoi(text):
    """C ``atoi``, which uWSGI uses for every integer option: the leading digits, the rest
    ignored, 0 when there are none (``processes = 8  # 8个进程`` runs 8 workers)."""
    m = _ATOI.match(text or "")
    return int(m.group(1)) if m else 0


def atoi_rest(text):
    """What ``atoi`` ignored in ``text`` (stripped), to tell the user about it."""
    m = _ATOI.match(text or "")
    return (text[m.end():] if m else (text or "")).strip()


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


# -- format parsers -----------------------------------------------------------------------

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


# -- public entry points ------------------------------------------------------------------

def load(source, env=None, cwd=None, hostname=None, argv=None, user=None, root_master=False):
    """Read one uWSGI config file (``path`` or ``path:section``) as ``uwsgi <source>`` would.

    ``env`` is the environment of the uWSGI process (a dict; never read from os.environ
    implicitly). ``cwd`` is uWSGI's working directory, against which relative includes
    resolve; default the directory of ``source`` (Baota starts uWSGI after ``cd`` to the
    project, where its ``uwsgi.ini`` lives). ``argv`` (a running master's command line)
    is merged in uWSGI's order: command-line flags first, then the file (§1.11). ``user``
    (uid, gids, name) reads every file with that user's rights; ``root_master`` lets the
    top-level file be root's own when the master runs as root.
    """
    if argv:
        return load_argv(list(argv) + [source], env=env, cwd=cwd, hostname=hostname, user=user,
                         root_master=root_master)
    name, section = split_section(source)
    # The file named here is relative to our own cwd; only includes use uWSGI's cwd.
    name = os.path.abspath(name)
    source = name + (":" + section if section is not None else "")
    if cwd is None:
        cwd = os.path.dirname(name)
    reader = _Reader(env, cwd, hostname or socket.gethostname(), user, root_master)
    kind = loader_for(name)
    if kind is None:
        raise UwsgiConfigError(f"unable to load configuration from {name} (unknown extension)", name, None)
    reader.load(source, kind)
    reader.finish()
    return UwsgiConfig(reader.options, reader.warnings, reader.files,
                       reader.referenced | reader.placeholders)


def load_argv(argv, env=None, cwd=None, hostname=None, user=None, root_master=False):
    """Read a uWSGI command line (``argv[0]`` is the program) plus the files it names.

    Order as in uWSGI's main(): ``UWSGI_*`` environment options, then getopt over argv
    (``--ini`` and friends load immediately), then bare arguments in order.
    """
    env = dict(env or {})
    if cwd is None:
        cwd = env.get("PWD") or os.getcwd()
    reader = _Reader(env, cwd, hostname or socket.gethostname(), user, root_master)
    for name in sorted(env):
        if name.startswith("UWSGI_") and name[6:].lower().replace("_", "-") in KNOWN_ENV:
            reader.add(name[6:].lower().replace("_", "-"), env[name], ENVIRON, 0)
    bare = []
    args = list(argv[1:])
    i = 0
    while i < len(args):
        arg = args[i]
        idx = i + 1
        if arg == "--":
            bare.extend((a, j + 1) for j, a in enumerate(args[i + 1:], i + 1))
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            if not eq:
                if name in FLAG_OPTIONS or name in OPTIONAL_ARG_OPTIONS:
                    value = ""
                elif i + 1 < len(args):
                    value = args[i + 1]
                    i += 1
                else:
                    raise UwsgiConfigError(f"option --{name} requires an argument",
                                           CMDLINE, idx)
            reader.add(name, value, CMDLINE, idx)
        elif arg.startswith("-") and len(arg) > 1:
            j = 1
            while j < len(arg):
                ch = arg[j]
                if ch not in SHORT_OPTIONS:
                    raise UwsgiConfigError(f"unknown short option -{ch}", CMDLINE, idx)
                name, needs = SHORT_OPTIONS[ch]
                if needs is False:
                    reader.add(name, "", CMDLINE, idx)
                    j += 1
                    continue
                rest = arg[j + 1:]
                if rest:
                    value = rest
                elif needs is None:
                    value = ""
                elif i + 1 < len(args):
                    value = args[i + 1]
                    i += 1
                else:
                    raise UwsgiConfigError(f"option -{ch} requires an argument", CMDLINE, idx)
                reader.add(name, value, CMDLINE, idx)
                break
        else:
            bare.append((arg, idx))
        i += 1
    for arg, idx in bare:
        if arg.startswith("["):
            continue
        name, _ = split_section(arg)
        kind = loader_for(name)
        if kind is not None:
            reader.options.append(Option(kind, arg, CMDLINE, idx))
            reader.load(arg, kind, CMDLINE, idx)
        elif arg.endswith((".py", ".wsgi")):
            reader.add("wsgi-file", arg, CMDLINE, idx)
        elif ":" in arg and "/" not in arg:
            reader.add("module", arg, CMDLINE, idx)
        else:
            raise UwsgiConfigError(f"unable to load configuration from {arg}", CMDLINE, idx)
    reader.finish()
    return UwsgiConfig(reader.options, reader.warnings, reader.files,
                       reader.referenced | reader.placeholders)


# Options uWSGI accepts as UWSGI_<NAME> environment variables that matter for a migration.
KNOWN_ENV = frozenset(["ini", "xml", "yaml", "json", "socket", "http", "http-socket", "processes", "workers", "threads", "master", "module", "wsgi", "wsgi-file", "chdir", "home", "virtualenv", "harakiri", "max-requests", "buffer-size", "chmod-socket", "uid", "gid", "pidfile", "daemonize", "logto", "env", "pythonpath", "static-map", "callable", "enable-threads", "vacuum"])
