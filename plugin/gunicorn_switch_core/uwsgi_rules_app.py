"""Translation rules (see ``uwsgi_translate``): where the site runs and what it runs (chdir,
env, the WSGI/ASGI application, mounts, pythonpath)."""
import glob
import os
import re

from . import django_detect

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def where(o, tr):
    """chdir (uWSGI's, else the project's), and the site's name and project from it."""
    chdir_opt = o.last("chdir", "chdir2")
    project = o.ctx.project_path
    if chdir_opt is not None and chdir_opt.value:
        chdir = chdir_opt.value.rstrip("/") or "/"
        tr.set("chdir", chdir, chdir_opt.describe(), "uWSGI's %d ends in '/': stripped")
    elif project:
        chdir = project.rstrip("/") or "/"
        tr.set("chdir", chdir, "context: project path", "no chdir in the uWSGI config")
    else:
        chdir = None
    o.chdir = chdir
    o.site = tr.site = o.ctx.site or (os.path.basename(chdir) if chdir else "site")
    o.project = project or chdir


def env(o, tr):
    """env = NAME=value, exported as uWSGI's putenv did (quotes and all)."""
    for opt in o.every("env"):
        if "=" not in opt.value:
            tr.warn("env = %s has no '=': uWSGI exports nothing; dropped" % opt.value, opt)
            continue
        o.raw_env.append((opt.value, opt.describe()))
        k, _, v = opt.value.partition("=")
        o.env_map[k] = v
        if v[:1] in ("'", '"'):
            tr.warn("env value %s keeps its quotes (uWSGI putenv does not strip them); "
                    "carried over as is" % opt.value, opt)


def app(o, tr):
    """The application from module=/wsgi-file= (with callable=), else the Django project's."""
    _app_from_options(o, tr)
    if o.wsgi_app is None and o.project:
        info = o.django if o.django is not None else django_detect.detect(o.project, o.env_map)
        tr.django = info
        if info.get("wsgi_app"):
            o.wsgi_app, o.app_origin = info["wsgi_app"], "django: %s" % (
                info.get("settings_module") or "wsgi.py")
            if info.get("root") and o.chdir and os.path.normpath(info["root"]) != o.chdir:
                o.extra_path = info["root"]
    elif o.project and o.django is not None:
        tr.django = o.django
    if tr.django:
        _uwsgi_api_imports(tr)
        if tr.django.get("asgi") and not o.ctx.worker_class:
            tr.warn("the project has ASGI indicators (Channels/ASGI_APPLICATION); it runs as "
                    "WSGI as under uWSGI. Choose worker_class=asgi for WebSockets",
                    option="worker_class")


def _app_from_options(o, tr):
    callable_opt = o.last("callable")
    callable_name = callable_opt.value if callable_opt is not None else "application"
    module = o.last("module", "wsgi", "w")
    wfile = o.last("wsgi-file", "file")
    if module is not None and module.value:
        value = module.value
        # "mysite.wsgi" is the tutorial's module path, not a file; only "x.py" is a file.
        if value.endswith(".py"):
            o.wsgi_app, o.extra_path = wsgi_file_to_app(value, o.chdir, callable_name)
        else:
            mod, colon, attr = value.partition(":")
            o.wsgi_app = "%s:%s" % (mod.replace("/", "."), attr if colon else callable_name)
        o.app_origin = module.describe()
        if wfile is not None and wfile.value:
            other, _ = wsgi_file_to_app(wfile.value, o.chdir, callable_name)
            if other and other != o.wsgi_app:
                tr.warn("both module = %s and wsgi-file = %s are set; uWSGI's first app is the "
                        "module, which is kept" % (value, wfile.value), wfile)
    elif wfile is not None and wfile.value:
        o.wsgi_app, o.extra_path = wsgi_file_to_app(wfile.value, o.chdir, callable_name)
        o.app_origin = wfile.describe()
        if o.wsgi_app is None:
            tr.warn("wsgi-file = %s is not importable as a module (name or extension); "
                    "falling back to the Django project's WSGI application" % wfile.value,
                    wfile)


def _uwsgi_api_imports(tr):
    """Project code that imports uWSGI's own API: a warning, a blocker when it runs on import."""
    crash = set(tr.django.get("uwsgi_imports_at_import") or [])
    for source in tr.django.get("uwsgi_imports") or []:
        if source in crash:
            message = ("%s imports uWSGI's own API (uwsgi/uwsgidecorators) when the module "
                       "loads: under Gunicorn that raises ImportError and the code that "
                       "imports this module fails. Guard it (try: import uwsgi / except "
                       "ImportError) or move it into the function that needs it; the switch "
                       "asks you to confirm" % source)
            tr.blockers.append({"message": message, "origin": source, "option": "import uwsgi"})
        else:
            message = ("%s imports uWSGI's own API (uwsgi/uwsgidecorators), which does not "
                       "exist under Gunicorn: that code fails when it runs" % source)
        tr.warn(message, option="import uwsgi")


def mounts(o, tr):
    """mount = /prefix=app: Gunicorn serves one app, under SCRIPT_NAME."""
    found = o.every("mount")
    if not found:
        return
    first = found[0]
    prefix, _, target = first.value.partition("=")
    prefix = prefix.rstrip("/")
    if len(found) > 1:
        tr.warn("%d mount= apps: Gunicorn serves one app per instance; only %s is "
                "migrated. Run one site per app or add a dispatcher WSGI module"
                % (len(found), first.value), first)
    if prefix and "|" not in prefix:
        o.raw_env.append(("SCRIPT_NAME=%s" % prefix, first.describe()))
        tr.nginx["script_name"] = prefix
    if target and not o.wsgi_app:
        if target.endswith(".py"):
            o.wsgi_app, o.extra_path = wsgi_file_to_app(target, o.chdir, "application")
        else:
            o.wsgi_app = target if ":" in target else target + ":application"
        o.app_origin = first.describe()


def wsgi_app(o, tr):
    if o.wsgi_app:
        tr.set("wsgi_app", o.wsgi_app, o.app_origin, "uWSGI's app, as an import path")
    else:
        tr.warn("no application found: neither module=/wsgi-file= nor a Django project "
                "with manage.py; set wsgi_app by hand", option="wsgi_app")


def pythonpath(o, tr):
    """pythonpath (globs expanded as uWSGI does), raw_env, and how the app is loaded."""
    paths = []
    for opt in o.every("pythonpath", "python-path", "pp"):
        base = o.chdir or o.project or "/"
        pattern = opt.value if os.path.isabs(opt.value) else os.path.join(base, opt.value)
        matches = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
        for m in matches:
            paths.append((os.path.normpath(m), opt.describe()))
    if o.extra_path:
        paths.append((o.extra_path, "wsgi-file directory"))
    if paths:
        tr.set("pythonpath", ",".join(p for p, _ in paths),
               "; ".join(sorted(set(origin for _, origin in paths))))
    if o.raw_env:
        tr.set("raw_env", [e for e, _ in o.raw_env],
               "; ".join(origin for _, origin in o.raw_env))
    lazy = o.last("lazy-apps", "lazy")
    tr.set("preload_app", False,
           lazy.describe() if lazy is not None else "plugin default",
           "a graceful reload (HUP) then reloads the code, as uWSGI's reload did")
    auto = o.last("py-autoreload", "python-autoreload")
    if auto is not None and auto.value not in ("", "0"):
        tr.warn("py-autoreload is a development feature; Gunicorn's reload=True watches "
                "every module and is not enabled here. Use the panel's reload after a deploy",
                auto)


def asgi_app(o, tr):
    """The project's ASGI application, for an ASGI worker (None, with a warning, if none)."""
    info = o.django if o.django is not None else (
        django_detect.detect(o.project, o.env_map) if o.project else None)
    if info and info.get("asgi_app"):
        return info["asgi_app"]
    tr.warn("ASGI worker requested but no ASGI application found (asgi.py / "
            "ASGI_APPLICATION); set wsgi_app by hand", option="worker_class")
    return None


def wsgi_file_to_app(path, chdir, callable_name):
    """A ``wsgi-file`` path as an importable ``module:callable`` (or None) + extra sys.path."""
    full = os.path.normpath(path if os.path.isabs(path) else os.path.join(chdir or "/", path))
    if not full.endswith(".py"):
        return None, None
    if chdir:
        rel = os.path.relpath(full, chdir)
        parts = rel[:-3].split(os.sep)
        if not rel.startswith("..") and all(_IDENT.match(p) for p in parts):
            return "%s:%s" % (".".join(parts), callable_name), None
    stem = os.path.basename(full)[:-3]
    if _IDENT.match(stem):
        return "%s:%s" % (stem, callable_name), os.path.dirname(full)
    return None, None
