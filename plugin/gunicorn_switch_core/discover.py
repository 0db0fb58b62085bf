"""Which sites run Django on uWSGI or Gunicorn, and how: the data behind `get_sites`.

``gather()`` reads the facts (the sites table, each site's nginx files, the running masters,
their uWSGI configs); ``build_sites()`` matches them without touching anything. Reading never
changes a live site: no signal, no command of the site's own, no write.
"""
import os

from . import (addresses, host, nginx_tree, nginx_view, panel_project, paths, processes, records, sites_db,
               uwsgi_config)

VENV_KEYS = ("home", "virtualenv", "venv", "pyhome")


def vhost_candidates(site):
    """The vhost files a site may have, in the order the panel would use them."""
    base = paths.real(paths.VHOST_NGINX)
    names = [site["name"] + ".conf", "python_" + site["name"] + ".conf"]
    if site["project_type"] == "Python":
        names.reverse()
    return [os.path.join(base, n) for n in names]


def read_venv(venv):
    """{'python': version} of a venv from its pyvenv.cfg; {} when it is not one."""
    if not venv:
        return {}
    try:
        text = host.read_text(os.path.join(venv, "pyvenv.cfg"))
    except (OSError, host.HostError):
        return {}
    out = {"python_bin": os.path.join(venv, "bin", "python")}
    for line in text.splitlines():
        k, _, v = line.partition("=")
        if k.strip() in ("version", "version_info"):
            out["python"] = v.strip()
    return out


def is_vassal(master):
    return "UWSGI_EMPEROR_FD" in (master.get("environ") or {})


def emperor_dir(master):
    """The directory an Emperor watches (its `emperor` option), against which it started the
    vassal's relative `--ini x.ini`; None when it is not a plain directory."""
    parent = master.get("parent") or {}
    try:
        cfg = uwsgi_config.load_argv(parent.get("cmdline") or ["uwsgi"], cwd=parent.get("cwd"))
    except (uwsgi_config.UwsgiConfigError, OSError, ValueError):
        return None
    d = cfg.value("emperor")
    if not d or "://" in d or any(c in d for c in "*?["):
        return None
    return os.path.join(parent.get("cwd") or "/", d)


def reader_user(master):
    """Whose rights a master's config is read with: its workers' user, www for root's."""
    uid = master.get("worker_uid")
    who = host.user_for_uid(uid) if uid else None
    if who is None:
        try:
            who = host.User(paths.SITE_USER)
        except KeyError:
            who = None
    return who


def read_uwsgi(master):
    """The effective uWSGI config of a running master, from its command line (docs/ARCHITECTURE.md, facts: uWSGI parsing)."""
    cwd = master.get("cwd")
    if is_vassal(master):
        cwd = emperor_dir(master) or cwd
    try:
        return uwsgi_config.load_argv(master["cmdline"], env=master.get("environ"), cwd=cwd,
                                      user=reader_user(master),
                                      root_master=master.get("uid") == 0)
    except (uwsgi_config.UwsgiConfigError, OSError, ValueError) as e:
        master.setdefault("problems", []).append(str(e))
        return None


def read_uwsgi_file(path):
    try:
        return uwsgi_config.load(path)
    except (uwsgi_config.UwsgiConfigError, OSError, ValueError):
        return None


def _under_root(proc):
    """Under a prefix (the sandbox), only the processes it started count: their command
    line, executable or working directory lies under it. On a server every process counts."""
    r = paths.root().rstrip("/")
    if not r:
        return True
    if any(r + "/" in a for a in proc.info.get("cmdline") or []):
        return True
    try:  # a Gunicorn master renamed by setproctitle: `gunicorn: master [site]`
        return proc.exe().startswith(r + "/") or proc.cwd().startswith(r + "/")
    except (OSError, ValueError, AttributeError, processes.psutil.Error):
        return False


def gather():
    """Read every fact discovery needs; returns plain data for build_sites()."""
    conf_dir = os.path.dirname(paths.real(paths.NGINX_CONF))
    # one reading of nginx's files: nginx.conf's tree holds the vhosts' too
    nginx = nginx_tree.Loader(host.read_bytes, conf_dir, tolerate=nginx_tree.LENIENT)
    masters = processes.scan(keep=_under_root)
    for m in masters:
        if m["kind"] == "uwsgi":
            cfg = read_uwsgi(m)
            m["uwsgi"] = cfg
    sites = []
    for site in sites_db.read_sites():
        vhost = next((p for p in vhost_candidates(site) if os.path.exists(p)), None)
        tree, problems = ([], [])
        if vhost:
            tree, problems = nginx.tree(vhost)
        site = dict(site, vhost=vhost, tree=tree, nginx_problems=problems)
        if site["project_type"] == "Python" and not any(m.get("uwsgi") for m in masters
                                                        if _sid_match(m, site)):
            ini = os.path.join(site["project_config"].get("path") or site["path"], "uwsgi.ini")
            site["stopped_uwsgi"] = read_uwsgi_file(ini) if os.path.exists(ini) else None
        sites.append(site)
    # Upstream blocks are global to nginx's http context: look in every vhost and nginx.conf.
    up_trees = [nginx.tree(paths.real(paths.NGINX_CONF))[0]]
    up_trees += [s["tree"] for s in sites]
    return {"sites": sites, "masters": masters, "upstreams": nginx_view.upstreams(up_trees),
            "managed": {r["site"]: r for r in records.all_records()}}


def _sid_match(master, site):
    return master.get("environ", {}).get("BT_PYTHON_SERVICE_SID") == panel_project.sid(site["name"])


def _manager(master, site):
    """How a master is run: (manager, detail)."""
    env = master.get("environ", {})
    parent = master.get("parent") or {}
    pcmd = " ".join(parent.get("cmdline") or [])
    if "supervisord" in pcmd or env.get("SUPERVISOR_PROCESS_NAME"):
        return "supervisor", env.get("SUPERVISOR_PROCESS_NAME")
    if env.get("BT_PYTHON_SERVICE_SID") or site["project_type"] == "Python":
        return "panel_project", site["name"]
    if is_vassal(master):  # before systemd: an Emperor's unit is not the vassal's
        return "emperor", pcmd
    if master.get("unit"):
        return "systemd", master["unit"]
    return "daemon", None


def _resolved(tgts, ups):
    """[(target, [addresses])]: an upstream name stands for its servers."""
    out = []
    for t in tgts:
        a = t["address"]
        out.append((t, ups[a]["servers"] if a in ups else [a]))
    return out


def _config_facts(cfg, site):
    facts = {"uwsgi_config": None, "project_path": site["project_config"].get("path") or site["path"],
             "venv": site["project_config"].get("vpath") or None}
    if cfg is None:
        return facts
    files = [f for f in cfg.files if not f.startswith("<")]
    if files:
        facts["uwsgi_config"] = files[0]
    chdir = cfg.value("chdir")
    if chdir:
        facts["project_path"] = chdir.rstrip("/") or "/"
    elif files:
        facts["project_path"] = os.path.dirname(files[0])
    venv = cfg.value(*VENV_KEYS)
    # the panel's own record of a project's venv outranks home=/virtualenv= of a config
    # that the site's user can write
    if venv and not facts["venv"]:
        facts["venv"] = venv.rstrip("/")
    return facts


def build_sites(facts):
    """The site list of get_sites, from gather()'s facts. Pure."""
    ups = facts["upstreams"]
    out = []
    for site in facts["sites"]:
        tgts = nginx_view.targets(site["tree"])
        resolved = _resolved(tgts, ups)
        master = None
        for m in facts["masters"]:
            if any(addresses.listen_matches(a, lst) for _, addrs in resolved for a in addrs
                   for lst in m["listen"]) or _sid_match(m, site):
                master = m
                break
        uses_uwsgi_pass = any(t["directive"] == "uwsgi_pass" for t in tgts)
        is_python = site["project_type"] == "Python"
        managed = facts["managed"].get(site["name"])
        if not (master or uses_uwsgi_pass or is_python or managed):
            continue  # a PHP or static site: not ours
        cfg = master.get("uwsgi") if master else site.get("stopped_uwsgi")
        info = _config_facts(cfg, site)
        if master is None and not info["venv"] and managed:
            info["venv"] = managed.get("venv")
        if master and not info["venv"]:
            venv = master.get("environ", {}).get("VIRTUAL_ENV")
            exe_venv = os.path.dirname(os.path.dirname(master.get("exe") or ""))
            if not venv and os.path.exists(os.path.join(exe_venv, "pyvenv.cfg")):
                venv = exe_venv
            info["venv"] = venv
        venv_facts = read_venv(info["venv"])
        manager, detail = _manager(master, site) if master else (
            ("panel_project", site["name"]) if is_python else ((managed or {}).get("manager"), None))
        if master:
            server = master["kind"]
        elif uses_uwsgi_pass or is_python or managed:
            server = "stopped"
        else:
            server = "unknown"
        upstream = None
        if tgts:
            t, addrs = resolved[0]
            upstream = t["raw"] if addrs == [t["address"]] else "%s -> %s" % (t["raw"], ", ".join(addrs))
        out.append({
            "site": site["name"],
            "domains": site["domains"],
            "server": server,
            "project_path": info["project_path"],
            "is_django": os.path.exists(os.path.join(info["project_path"] or "", "manage.py")),
            "venv": info["venv"],
            "python": venv_facts.get("python"),
            "uwsgi_config": info["uwsgi_config"],
            "nginx_conf": site["vhost"],
            "nginx_files": [p for p, _ in site["tree"]],
            "upstream": upstream,
            "pass_directive": tgts[0]["directive"] if tgts else None,
            "manager": manager,
            "manager_detail": detail,
            "pid": master["pid"] if master else None,
            "listen": master["listen"] if master else [],
            "managed_by_plugin": bool(managed),
            "problems": [p for _, p in site["nginx_problems"]] + (master or {}).get("problems", []),
        })
    return out


def get_sites(facts=None):
    return build_sites(facts if facts is not None else gather())
