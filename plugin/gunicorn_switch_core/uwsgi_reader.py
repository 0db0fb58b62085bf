"""The reader behind ``uwsgi_config.load``: uWSGI's option funnel (core/config.c
add_exported_option), with its immediate options (includes, ``set``, logic blocks) and the
checks on what may be read for the site."""
import glob
import os

from . import safe_files
from .uwsgi_expand import Expansion, magic_table
from .uwsgi_formats import loader_for, parse_ini, parse_json, parse_xml, parse_yaml, split_section
from .uwsgi_model import CMDLINE, ENVIRON, MAX_BYTES, ConfigWarning, Option, UwsgiConfigError
from .uwsgi_options import LOADERS, LOGIC_END, LOGIC_START, PLACEHOLDER_SETTERS

# uWSGI has no include limit of its own (it recurses until the stack dies); a real config
# never nests this deep, so deeper means a loop we failed to spot by name.
MAX_DEPTH = 32
# the section read when a file is named without one
DEFAULT_SECTION = "uwsgi"


class Reader(Expansion):
    """One reading: the options so far, the files read, the open logic block, the include
    stack."""

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

    def load(self, spec, kind, path=None, line=None):
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
                parse_ini(self, text, real, section or DEFAULT_SECTION)
            elif kind == "xml":
                parse_xml(self, text, real, section)
            elif kind == "yaml":
                parse_yaml(self, text, real, section or DEFAULT_SECTION)
            elif kind == "json":
                parse_json(self, text, real, section or DEFAULT_SECTION)
            else:
                raise UwsgiConfigError(f"unable to load configuration from {real} (unknown type)", path, line)
        finally:
            self.stack.pop()

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

    def finish(self):
        """After the last file: close an open block, run the substitutions, then ``inherit``."""
        if self.logic is not None:
            kind, arg, path, line = self.logic
            self.warn(f"{kind} = {arg} is never closed with end", path, line)
            self.logic = None
        self.substitute(self.options)
        # inherit is applied during uwsgi_configure(), after the passes: its options get
        # magic variables only (uWSGI's docs, ParsingOrder.rst).
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


def _cond(ok, negate, item):
    return [item] if ok != negate else []
