"""Read a uWSGI configuration the way uWSGI 2.0 itself does.

The result is the ordered option list uWSGI builds internally (``add_exported_option``), after
its immediate options (includes, ``set``, logic blocks) and its three substitution passes
(``$()``, ``@()``, ``%()``). Every option keeps where it came from. Nothing is executed and
nothing is written: the only side effect is reading the configuration files (and, for
``if-exists``/``for-glob``/``@(file)``, looking at the files they name).

Where uWSGI would do something we cannot or must not reproduce (``@(exec://...)``,
``@(http://...)``, XML ``eval``) the reader records a warning naming file and line. Input that
uWSGI would refuse, or that is unsafe to read, raises ``UwsgiConfigError``.

The reading is split by concern: ``uwsgi_formats`` (ini/xml/yaml/json), ``uwsgi_reader`` (the
option funnel, includes, logic blocks), ``uwsgi_expand`` (the substitutions), ``uwsgi_values``
(numbers and switches as uWSGI reads them), ``uwsgi_options`` (uWSGI's option tables).
"""
import os
import socket

from .uwsgi_formats import loader_for, split_section
from .uwsgi_model import CMDLINE, ENVIRON, Option, UwsgiConfig, UwsgiConfigError
from .uwsgi_options import FLAG_OPTIONS, KNOWN_ENV, OPTIONAL_ARG_OPTIONS, SHORT_OPTIONS
from .uwsgi_reader import Reader
from .uwsgi_values import atoi, atoi_rest, is_true

# what callers use from here: the readers of numbers and switches too
__all__ = ["UwsgiConfig", "UwsgiConfigError", "atoi", "atoi_rest", "is_true", "load",
           "load_argv"]


def load(source, env=None, cwd=None, hostname=None, argv=None, user=None, root_master=False):
    """Read one uWSGI config file (``path`` or ``path:section``) as ``uwsgi <source>`` would.

    ``env`` is the environment of the uWSGI process (a dict; never read from os.environ
    implicitly). ``cwd`` is uWSGI's working directory, against which relative includes
    resolve; default the directory of ``source`` (Baota starts uWSGI after ``cd`` to the
    project, where its ``uwsgi.ini`` lives). ``argv`` (a running master's command line)
    is merged in uWSGI's order: command-line flags first, then the file. ``user``
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
    reader = Reader(env, cwd, hostname or socket.gethostname(), user, root_master)
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
    reader = Reader(env, cwd, hostname or socket.gethostname(), user, root_master)
    for name in sorted(env):
        if name.startswith("UWSGI_") and name[6:].lower().replace("_", "-") in KNOWN_ENV:
            reader.add(name[6:].lower().replace("_", "-"), env[name], ENVIRON, 0)
    for arg, idx in _getopt(reader, list(argv[1:])):
        _bare_argument(reader, arg, idx)
    reader.finish()
    return UwsgiConfig(reader.options, reader.warnings, reader.files,
                       reader.referenced | reader.placeholders)


def _getopt(reader, args):
    """Add the options of ``args`` as uWSGI's getopt_long takes them; the bare arguments
    (with their position) are returned for after."""
    bare = []
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
            i = _short_options(reader, args, i)
        else:
            bare.append((arg, idx))
        i += 1
    return bare


def _short_options(reader, args, i):
    """``-M -p4 -s :80`` style: flags may be grouped, a value follows its letter or is the next
    word. Returns the index of the last word used."""
    arg = args[i]
    idx = i + 1
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
    return i


def _bare_argument(reader, arg, idx):
    """A config file (loaded in place), a .py/.wsgi file or a module:callable."""
    if arg.startswith("["):
        return
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
