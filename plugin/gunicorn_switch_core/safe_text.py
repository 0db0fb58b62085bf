"""Values that go into text something else interprets: the panel project's start script (bash),
the Supervisor program file (ini with %-interpolation and ``;`` comments), systemd units.

Paths there come from the site's uWSGI config, which the site's user can write, so they are
checked against a conservative character set and refused otherwise, and quoted where a shell
reads them: safe by construction, not by escaping every interpreter's rules right.
"""
import re
import shlex

# Letters of any script (a Chinese project folder is common), digits and a few punctuation
# marks; no control characters, whitespace, %, $, `, quotes, backslash, ; & | < > ( ) * ? [ ] ~ !
_BAD = re.compile(r"[\x00-\x20\x7f%$`'\"\\;&|<>()*?\[\]{}~!#^]")


class UnsafeText(ValueError):
    """A value that cannot go into generated text; the message names it and says why."""


def check_path(value, what):
    """``value`` if it is an absolute path made of safe characters; UnsafeText otherwise."""
    if not isinstance(value, str) or not value.startswith("/"):
        raise UnsafeText("%s is not an absolute path: %r" % (what, str(value)[:200]))
    bad = _BAD.search(value)
    if bad:
        raise UnsafeText("%s %r contains %r, which the plugin does not put into scripts or "
                         "program files; rename it or move the project" % (what, value[:200],
                                                                          bad.group(0)))
    if any(part == ".." for part in value.split("/")):
        raise UnsafeText("%s %r contains '..'" % (what, value[:200]))
    return value


def digits(text):
    """Is ``text`` a number written in ASCII digits? (str.isdigit also takes '²' and '٣',
    which int() then refuses or reads as another number.)"""
    return isinstance(text, str) and 0 < len(text) <= 18 and text.isascii() and text.isdigit()


def sh(value, what):
    """A checked path quoted for bash."""
    return shlex.quote(check_path(value, what))


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def systemd_word(value, what, expand=True):
    """``value`` as one word of a unit file's ExecStart= (``expand``) or Environment= line:
    in double quotes, where systemd reads C escapes (so \\ and " are escaped), expands
    %-specifiers (%%) and, in ExecStart=, $VARIABLES ($$). UnsafeText with a control
    character (a line break would end the setting) or for a lone ';' (ExecStart='s command
    separator)."""
    if not isinstance(value, str) or _CONTROL.search(value) or value.strip() == ";":
        raise UnsafeText("%s %r cannot stand in a systemd unit; put it in a script" % (what, str(value)[:200]))
    text = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    if expand:
        text = text.replace("$", "$$")
    return '"%s"' % text
