"""What reading a uWSGI configuration gives: the ordered options, each with where it came from,
the reader's warnings, and the error for a configuration uWSGI would refuse or that is unsafe
to read."""
import os

# Where an option came from when it was not a file.
CMDLINE = "<command line>"
ENVIRON = "<environment>"
# the largest file read: a config, an include, an @() file
MAX_BYTES = 1024 * 1024


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

    __slots__ = ("key", "line", "path", "value")

    def __init__(self, key, value, path, line):
        self.key = key
        self.value = value
        self.path = path
        self.line = line

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
