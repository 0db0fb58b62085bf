"""supervisorctl's update, start, stop and status, asked of supervisord over its own unix
socket (XML-RPC, as the Supervisor plugin's page asks it: docs/ARCHITECTURE.md, facts:
Supervisor plugin), in this process.

Each supervisorctl is a Python process of its own: ≈ 0.2 s here, and a switch ran three of
them before nginx could go over to Gunicorn (bench/NOTES.md, confirm → serving). The answers
and the text are supervisorctl's (supervisor 4's ``do_update``/``do_status`` semantics), so
the callers read them as before. ``Unreachable`` means: ask supervisorctl instead (no socket
in the conf, nothing listening, a refused login) -- never a fault supervisord answered.
"""
import configparser
import http.client
import os
import xmlrpc.client  # nosec B411 -- the only peer is supervisord, on root's 0700 socket

from . import health

TIMEOUT = 90.0  # as supervisorctl's callers allow it (a stop waits for stopwaitsecs)

# supervisord's fault codes (xmlrpc.Faults) that the commands below answer as text
BAD_NAME, NOT_RUNNING, ALREADY_STARTED = 10, 70, 60


class Unreachable(Exception):
    pass


def server_of(conf_path):
    """(socket path, username, password) from a supervisord.conf, as supervisorctl reads it:
    [supervisorctl] serverurl first, else [unix_http_server] file; the login from either.
    Unreachable when the conf names no unix socket this can use."""
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";", "#"), strict=False,
                                          interpolation=None)
    try:
        with open(conf_path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except (OSError, configparser.Error, UnicodeDecodeError) as e:
        raise Unreachable("%s: %s" % (conf_path, e))
    here = os.path.dirname(os.path.abspath(conf_path))

    def get(section, key):
        value = parser.get(section, key, fallback="").strip()
        return value.replace("%(here)s", here)
    url = get("supervisorctl", "serverurl")
    if url:
        if not url.startswith("unix://"):
            raise Unreachable("serverurl %s is not a unix socket" % url)
        path = url[len("unix://"):]
    else:
        path = get("unix_http_server", "file")
    if not path or "%(" in path or not os.path.isabs(path):
        raise Unreachable("no usable unix socket in %s" % conf_path)
    user = get("supervisorctl", "username") or get("unix_http_server", "username")
    password = get("supervisorctl", "password") or get("unix_http_server", "password")
    return path, user, password


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path, timeout):
        xmlrpc.client.Transport.__init__(self)
        self._path, self._timeout = path, timeout

    def make_connection(self, host):
        # get_host_info turns the URL's user:password into the Basic authorization header
        _, self._extra_headers, _ = self.get_host_info(host)
        return health.connection("unix:" + self._path, self._timeout)


def proxy(conf_path, timeout=TIMEOUT):
    path, user, password = server_of(conf_path)
    login = ""
    if user:
        from urllib.parse import quote
        login = "%s:%s@" % (quote(user, safe=""), quote(password, safe=""))
    return xmlrpc.client.ServerProxy("http://%slocalhost/RPC2" % login,
                                     transport=_UnixTransport(path, timeout))


def _split(namespec):
    """supervisor's split_namespec: "g:p" -> (g, p), "g:" or "g:*" -> (g, None), "p" -> (p, p)."""
    group, sep, name = namespec.partition(":")
    if not sep:
        return namespec, namespec
    return group, (None if name in ("", "*") else name)


def _fault_text(name, fault):
    words = {BAD_NAME: "no such process", NOT_RUNNING: "not running",
             ALREADY_STARTED: "already started"}
    return "%s: ERROR (%s)" % (name, words.get(fault.faultCode, fault.faultString))


def run(conf_path, *args):
    """supervisorctl ``args`` (update [names], start name, stop name, status [names]) over the
    socket: (exit code, supervisorctl's text). Unreachable when the socket does not answer;
    ValueError for a command this does not speak."""
    cmd, names = (args[0], list(args[1:])) if args else ("", [])
    if cmd not in ("update", "start", "stop", "status"):
        raise ValueError("supervisor_rpc does not do %r" % (cmd,))
    server = proxy(conf_path).supervisor
    try:
        return _COMMANDS[cmd](server, names)
    except xmlrpc.client.ProtocolError as e:  # 401: a login this conf does not have
        raise Unreachable("supervisord answered %s %s" % (e.errcode, e.errmsg))
    except (OSError, http.client.HTTPException) as e:
        raise Unreachable("supervisord socket: %s" % e)


def _update(server, names):
    added, changed, removed = server.reloadConfig()[0]
    wanted = set(names) if names and "all" not in names else None
    lines = []
    for group in removed + changed:  # a changed group is stopped, removed and added again
        if wanted is None or group in wanted:
            _stop_group(server, group)
            server.removeProcessGroup(group)
            if group in changed:
                server.addProcessGroup(group)
            lines.append("%s: stopped\n%s: %s process group"
                         % (group, group, "updated" if group in changed else "removed"))
    for group in added:
        if wanted is None or group in wanted:
            server.addProcessGroup(group)
            lines.append("%s: added process group" % group)
    return 0, "\n".join(lines) + ("\n" if lines else "")


def _stop_group(server, group):
    try:
        server.stopProcessGroup(group)
    except xmlrpc.client.Fault as e:
        if e.faultCode not in (BAD_NAME, NOT_RUNNING):
            raise


def _one(server, names, verb, done):
    rc, lines = 0, []
    for name in names:
        group, proc = _split(name)
        try:
            if proc is None:
                getattr(server, verb + "ProcessGroup")(group)
            else:
                getattr(server, verb + "Process")(name)
            lines.append("%s: %s" % (name, done))
        except xmlrpc.client.Fault as e:
            rc = 1
            lines.append(_fault_text(name, e))
    return rc, "\n".join(lines) + "\n"


def _start(server, names):
    return _one(server, names, "start", "started")


def _stop(server, names):
    return _one(server, names, "stop", "stopped")


def _status(server, names):
    infos = server.getAllProcessInfo()
    lines, rc, seen = [], 0, set()
    for name in names or [None]:
        group, proc = _split(name) if name else (None, None)
        hit = False
        for info in infos:
            if group is not None and (info["group"] != group or
                                      (proc is not None and info["name"] != proc)):
                continue
            hit = True
            label = info["name"] if info["group"] == info["name"] else \
                "%s:%s" % (info["group"], info["name"])
            if label not in seen:
                seen.add(label)
                lines.append("%-32s %-10s %s" % (label, info["statename"], info.get("description", "")))
        if not hit:
            rc = 4
            lines.append("%s: ERROR (no such process)" % name)
    return rc, "\n".join(lines) + "\n"


_COMMANDS = {"update": _update, "start": _start, "stop": _stop, "status": _status}
