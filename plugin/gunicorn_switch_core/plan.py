"""The plan of a switch: what will be written, changed and run, with nothing touched.

``make_plan`` composes discovery, the uWSGI reader and translator, the renderer and the nginx
rewrite. It reads files and processes and writes nothing; the switch runs exactly this plan.
"""
from __future__ import annotations

import glob
import os
import pwd
import re
import socket
import stat
from typing import TYPE_CHECKING

from . import (addresses, boot, boot_apply, carried_text, discover, django_detect, health, host, i18n,
               nginx_tokens, nginx_translate, nginx_tree, paths, plans, render, safe_files,
               safe_text, saturation, switch, uwsgi_translate)

if TYPE_CHECKING:
    from typing import Any, Dict, Mapping, Optional

    from .shapes import Plan

WORKER_CLASSES = ("sync", "gthread", "gevent", "asgi", "uvicorn_worker.UvicornWorker")
BINDS = ("tcp", "unix")
ACCESS_LOG = ("on", "off")
MANAGERS = ("supervisor", "panel_project", "systemd", "daemon")
USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
CONF_NAME = "gunicorn_conf.py"
# Where the panel makes venvs (its project manager, its Python version manager) and where
# projects keep their own: a venv anywhere else is not the site's to run pip in.
VENV_PLACES = (paths.PYENVS, paths.PYTHON_MANAGER, paths.WWWROOT)

class PlanError(Exception):
    """The site cannot be switched as asked; the message (in the page's language) says why."""

    def __init__(self, key, **kw):
        Exception.__init__(self, i18n.t(key, **kw))


def _int_option(options, name, low, high):
    v = options.get(name)
    if v in (None, ""):
        return None
    try:
        n = int(str(v).strip())
    except ValueError:
        raise PlanError("opt_not_int", name=name, value=str(v)[:20])
    if not low <= n <= high:
        raise PlanError("opt_range", name=name, low=low, high=high)
    return n


def parse_options(options):
    """Validate the page's options; every value is a string from the panel's `get`."""
    out = {
        "workers": _int_option(options, "workers", 1, 256),
        "threads": _int_option(options, "threads", 1, 256),
        "timeout": _int_option(options, "timeout", 1, 86400),
        "worker_class": options.get("worker_class") or None,
        "bind": options.get("bind") or "tcp",
        "access_log": options.get("access_log") or None,  # None: as uWSGI logged
        "manager": options.get("manager") or None,
        "user": options.get("user") or None,  # None: the user the site's uWSGI ran as
    }
    if out["worker_class"] and out["worker_class"] not in WORKER_CLASSES:
        raise PlanError("opt_choice", name="worker_class", choices=", ".join(WORKER_CLASSES))
    if out["bind"] not in BINDS:
        raise PlanError("opt_choice", name="bind", choices=", ".join(BINDS))
    if out["access_log"] and out["access_log"] not in ACCESS_LOG:
        raise PlanError("opt_choice", name="access_log", choices=", ".join(ACCESS_LOG))
    if out["manager"] and out["manager"] not in MANAGERS:
        raise PlanError("opt_choice", name="manager", choices=", ".join(MANAGERS))
    if out["user"] is not None:
        check_user(out["user"])
    return out


def check_user(name):
    if not USER_NAME.match(name):
        raise PlanError("bad_user", user=name[:32])
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        raise PlanError("no_user", user=name)
    if name == "root" or pw.pw_uid == 0:
        raise PlanError("root_user")
    return host.User(name)


def _user_name(value):
    """A uWSGI uid=/gid= value (a name or a number) as a user name, or None."""
    value = (value or "").strip()
    try:
        return pwd.getpwuid(int(value)).pw_name if safe_text.digits(value) else pwd.getpwnam(value).pw_name
    except (KeyError, ValueError, OverflowError):
        return None


def site_user(opts, cfg, master):
    """(the user Gunicorn runs as, a warning or None): the one asked for, else the one the
    site's uWSGI workers ran as (its uid=, or the running workers' uid), else www. Never root."""
    if opts["user"]:
        return check_user(opts["user"]), None
    name = _user_name(cfg.value("uid")) if cfg is not None else None
    if not name or name == "root":
        try:
            name = pwd.getpwuid(master.get("worker_uid")).pw_name
        except (KeyError, TypeError):
            name = None
    if name and name != "root" and USER_NAME.match(name):
        return check_user(name), None
    return check_user(paths.SITE_USER), i18n.t("ran_as_root", user=paths.SITE_USER)


def _inside(path, places):
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in places)


def _others_can_write(top, limit=200000):
    """The first path under ``top`` (itself included) that a non-root user could change,
    or None. For a root-owned venv pip would run from as root."""
    seen = 0
    for dirpath, dirnames, filenames in os.walk(top):
        for name in [""] + dirnames + filenames:
            p = os.path.join(dirpath, name) if name else dirpath
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if st.st_uid != 0 or (not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o022):
                return p
            seen += 1
            if seen > limit:
                return top + " (over %d files: not checked)" % limit
    return None


def venv_runner(venv, user, project_path, need_pip):
    """Who runs pip in a venv: its owner, the site's user, or root for a venv that only root
    can change (and only then). PlanError for a venv somewhere else, or someone else's."""
    real = os.path.realpath(venv)
    places = [paths.real(p) for p in VENV_PLACES] + [os.path.realpath(project_path)]
    if not _inside(real, places):
        raise PlanError("venv_place", venv=venv, places=", ".join(paths.real(p) for p in VENV_PLACES))
    owner = os.stat(real).st_uid
    if owner == user.uid:
        return user.name
    if owner != 0:
        raise PlanError("venv_owner", venv=venv, owner=owner, user=user.name)
    if need_pip:
        bad = _others_can_write(real)
        if bad:
            raise PlanError("venv_root_writable", venv=venv, path=bad)
    return "root"


def check_master(master, venv, user):
    """A uWSGI master is trusted (its command line is ever run again by rollback) only when
    it runs as root or as the site's user, from the venv's own uwsgi or a binary that only
    root can change; anything else may be the site's user dressed up as uWSGI."""
    exe = master.get("exe") or ""
    own = os.path.realpath(os.path.join(venv, "bin", "uwsgi"))
    ok_exe = exe and (os.path.realpath(exe) == own or safe_files.root_only(exe))
    if master.get("uid") not in (0, user.uid) or not ok_exe:
        raise PlanError("untrusted_master", pid=master.get("pid"), exe=exe or "?",
                        user=master.get("username") or master.get("uid"))


def check_paths(values):
    """Paths that go into the start script or the program file: safe characters only."""
    for what, value in values:
        try:
            safe_text.check_path(value, what)
        except safe_text.UnsafeText as e:
            raise PlanError("unsafe_path", error=e)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def runtime_dir(site):
    return paths.real(paths.GUNICORN_RUNTIME + "/" + site)


def supervisor_installed():
    return os.path.exists(os.path.join(paths.real(paths.SUPERVISOR_PLUGIN), "info.json"))


def choose_manager(site, requested):
    if requested:
        if requested == "supervisor" and not supervisor_installed():
            raise PlanError("no_supervisor")
        if requested == "panel_project" and site["manager"] != "panel_project":
            raise PlanError("not_project")
        if requested == "systemd" and site["manager"] != "systemd":
            # only where uWSGI runs as a unit is there a systemd that runs units
            raise PlanError("opt_choice", name="manager",
                            choices=", ".join(m for m in MANAGERS if m != "systemd"))
        return requested
    if site["manager"] in ("panel_project", "systemd"):
        return site["manager"]
    if supervisor_installed():
        return "supervisor"
    return "daemon"


def installed_gunicorn(venv):
    """The Gunicorn version already in a venv (from its dist-info), or None."""
    for d in glob.glob(os.path.join(venv, "lib", "python*", "site-packages", "gunicorn-*.dist-info")):
        m = re.match(r"gunicorn-([0-9][^-]*)\.dist-info$", os.path.basename(d))
        if m:
            return m.group(1)
    return None


def nginx_read_timeout(tree):
    """uwsgi_read_timeout of the site's nginx files in seconds (the last one wins), or None."""
    found = None
    for _path, conf in tree:
        for d in conf.walk():
            if d.name == "uwsgi_read_timeout" and d.args:
                m = re.match(r"^(\d+)(s|m|h)?$", d.args[0])
                if m:
                    found = int(m.group(1)) * {"s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]
    return found


def nginx_listen(tree):
    """A loopback address where nginx serves the site over plain HTTP (for health checks)."""
    for _path, conf in tree:
        for d in conf.walk():
            if d.name == "listen" and d.args and "ssl" not in d.args and "quic" not in d.args:
                loopback = addresses.listen_to_loopback(d.args[0])
                if loopback:
                    return loopback
    return "127.0.0.1:80"


def site_facts(name, facts=None):
    """(site, master, nginx tree) for a site, from discovery's facts (gathered if not given)."""
    facts = facts if facts is not None else discover.gather()
    for s in discover.build_sites(facts):
        if s["site"] == name:
            master = next((m for m in facts["masters"] if m["pid"] == s["pid"]), None)
            tree = next((x["tree"] for x in facts["sites"] if x["name"] == name), [])
            return s, master, tree
    raise PlanError("unknown_site", name=name)


def panel_project_bind(site, asked):
    """(the bind kind, a warning or None). The panel's project manager knows a project's
    backend only as a port (project_config.port, proxy_info[].proxy_port), and rebuilds the
    vhost's proxy locations from those on every domain edit (docs/ARCHITECTURE.md, facts: panel
    project manager):
    a unix socket would be dropped from nginx by the panel. So a panel project gets a
    loopback port whatever was asked."""
    if asked == "unix" and site["manager"] == "panel_project":
        return "tcp", i18n.t("project_unix_bind")
    return asked, None


def upstream_ports(upstream):
    """The TCP ports of the site's uWSGI as nginx reached it (discovery's `upstream`:
    'addr' or 'name -> addr, addr')."""
    if not upstream:
        return []
    addrs = upstream.split(" -> ", 1)[-1].split(",")
    out = []
    for a in addrs:
        a = addresses.normalize(a)
        port = a.rpartition(":")[2]
        if not a.startswith("unix:") and safe_text.digits(port):
            out.append(int(port))
    return out


def log_dir(site):
    return paths.real(paths.PYTHON_LOGS + "/" + site["site"])


def boot_plan_for(name, site, manager, user):
    """(what the switch does about boot, the note when the site will not start at boot)."""
    p = boot_apply.plan_for(name, site["uwsgi_config"], site["project_path"], manager,
                            site["manager"], user)
    note = None if p["persistent"] else i18n.t(
        "boot_none", site=name, script=p["script"] or boot_apply.script_path(name))
    return p, note


def plan_nginx(site, bind, tr):
    """({path: bytes} read, the translation's Result) of the site's nginx files, read once."""
    try:
        tree = nginx_tree.site_tree(paths.real(paths.NGINX_CONF), site["nginx_conf"],
                                    host.read_bytes)
        hint = addresses.normalize(site["upstream"].split(" -> ")[0]) if site["upstream"] else None
        statics = [(s["url"], s["path"]) for s in tr.nginx.get("static") or []]
        nres = nginx_translate.translate_tree(
            tree, bind, old_upstream_hint=hint, static_maps=statics,
            websocket=tr.nginx.get("websocket") or None, vhost=site["nginx_conf"])
    except (nginx_tokens.NginxConfigError, OSError, host.HostError) as e:
        raise PlanError("nginx_unreadable", name=site["site"], error=e)
    if not nres.changed:
        raise PlanError("nginx_nothing", name=site["site"])
    return tree.files, nres


def switchable_uwsgi(name, site, master):
    """The parsed config of the site's running uWSGI; PlanError when the site is not one the
    switch can take (already on Gunicorn, no uWSGI, no venv, a config it cannot read)."""
    if site["server"] == "gunicorn":
        raise PlanError("on_gunicorn", name=name)
    if site["server"] != "uwsgi" or master is None:
        raise PlanError("no_uwsgi", name=name)
    if not site["venv"] or not os.path.exists(os.path.join(site["venv"], "bin", "python")):
        raise PlanError("no_venv", name=name)
    cfg = master.get("uwsgi")
    if cfg is None:
        raise PlanError("uwsgi_unreadable", name=name,
                        error="; ".join(master.get("problems", [])) or "?")
    return cfg


def plan_warnings(tr, nres, cfg, notes):
    """Everything the plan warns of: the translation's, nginx's, the uWSGI reader's, then the
    plan's own ``notes`` ({origin: message or None})."""
    warnings = [_warning(w) for w in tr.warnings] + [{"message": w, "origin": "nginx"} for w in nres.warnings]
    warnings += [{"message": w.message if hasattr(w, "message") else str(w), "origin": "uwsgi"}
                 for w in getattr(cfg, "warnings", [])]
    warnings += [{"message": m, "origin": origin} for origin, m in notes.items() if m]
    return warnings


def translation_context(site, opts, user, bind, gunicorn_version, tree):
    """What the translation needs to know of the host, besides the uWSGI config."""
    rdir = runtime_dir(site["site"])
    return {
        "site": site["site"], "project_path": site["project_path"], "venv": site["venv"],
        "python_version": site["python"], "gunicorn_version": gunicorn_version,
        "log_dir": log_dir(site), "runtime_dir": rdir, "stats_dir": os.path.join(rdir, "stats"),
        "bind": bind, "user": user.name, "group": user.group_name(), "run_as": user.name,
        "nginx_read_timeout": nginx_read_timeout(tree), "somaxconn": saturation.somaxconn(),
        "overrides": {k: opts[k] for k in ("workers", "threads", "worker_class", "timeout",
                                           "access_log")},
    }


def make_plan(name: str, options: Mapping[str, str],
              facts: Optional[Dict[str, Any]] = None) -> Plan:
    """The whole plan for switching site ``name``; raises PlanError when it cannot be done."""
    opts = parse_options(options)
    site, master, tree = site_facts(name, facts)
    cfg = switchable_uwsgi(name, site, master)
    user, user_warning = site_user(opts, cfg, master)
    check_paths([("project_path", site["project_path"]), ("venv", site["venv"]),
                 ("log_dir", log_dir(site))])
    have = installed_gunicorn(site["venv"])
    pip_user = venv_runner(site["venv"], user, site["project_path"], need_pip=not have)
    check_master(master, site["venv"], user)
    manager = choose_manager(site, opts["manager"])
    rdir = runtime_dir(name)
    bind_kind, bind_warning = panel_project_bind(site, opts["bind"])
    bind = ("127.0.0.1:%d" % free_port()) if bind_kind == "tcp" else "unix:%s/gunicorn.sock" % rdir
    version, why = uwsgi_translate.choose_gunicorn_version(site["python"], None)
    tr = uwsgi_translate.translate(cfg, translation_context(site, opts, user, bind, have or version, tree),
                                   django=django_detect.detect(site["project_path"], env=None))
    conf_text = render.render(tr)
    conf_path = os.path.join(site["project_path"], CONF_NAME)

    files, nres = plan_nginx(site, bind, tr)

    boot_plan, boot_note = boot_plan_for(name, site, manager, user.name)
    warnings = plan_warnings(tr, nres, cfg, {"gunicorn_version": why, "uid": user_warning,
                                             "bind": bind_warning, "boot": boot_note})
    nginx_addr = nginx_listen(tree)
    domain = (site["domains"] or [name])[0]
    baseline = health.status(nginx_addr, domain)
    if baseline is None or baseline >= 500:
        raise PlanError("not_serving", name=name, status=baseline)
    inputs = {"site": name, "master_pid": site["pid"], "venv": site["venv"],
              "files": [f for f in cfg.files if f.startswith("/")] + list(files) + [conf_path]}
    return {
        "site": name,
        "inputs": inputs,
        "digest": plans.digest(inputs),
        "gunicorn_conf": conf_text,
        "gunicorn_conf_path": conf_path,
        "nginx_diff": nres.diffs,
        "nginx_files": {p: nginx_tokens.decode(b) for p, b in nres.new_files.items()},
        "steps": [{"name": n, "title": zh, "title_en": en} for n, zh, en in switch.SWITCH.listing()],
        "warnings": warnings,
        "carried": carried_text.localize(tr.carried, manager, i18n.lang()) +
        boot.carried_items(boot_plan, i18n.lang(), boot_note),
        "boot": boot_plan,
        "blockers": list(tr.blockers),
        "settings": {k: v["value"] for k, v in tr.as_dict()["settings"].items()},
        "bind": bind,
        "manager": manager,
        "uwsgi_manager": site["manager"],
        "uwsgi_manager_detail": site["manager_detail"],
        "uwsgi_pid": site["pid"],
        "uwsgi_ports": upstream_ports(site["upstream"]),
        "uwsgi_cmdline": master["cmdline"],
        "uwsgi_cwd": master["cwd"],
        "uwsgi_config": site["uwsgi_config"],
        "venv": site["venv"],
        "project_path": site["project_path"],
        "python": site["python"],
        "gunicorn_installed": have,
        "gunicorn_version": tr.gunicorn_version,
        "runtime_dir": rdir,
        "stats_dir": os.path.join(rdir, "stats"),
        "log_dir": log_dir(site),
        "domain": domain,
        "nginx_addr": nginx_addr,
        "baseline_status": baseline,
        "drain_timeout": min(max(int(tr.settings["timeout"].value) if tr.settings.get("timeout") else 30, 5), 120),
        "uwsgi_environ": master.get("environ") or {},
        "user": user.name,
        "pip_user": pip_user,
        "uwsgi_uid": master.get("uid"),
        "uwsgi_exe": master.get("exe"),
        "uwsgi_logs": [f for f in master.get("output_files") or []
                       if _inside(f, [paths.real(paths.WWWLOGS), site["project_path"]])],
        "options": opts,
        "wsgi_app": (tr.settings.get("wsgi_app").value if tr.settings.get("wsgi_app") else None),
    }


def _warning(w):
    if isinstance(w, dict):
        return {"message": w.get("message"), "origin": w.get("origin") or w.get("option")}
    return {"message": str(w), "origin": None}

