"""Find a Django project's WSGI/ASGI entry points without importing it (docs/ARCHITECTURE.md,
"Django entry points").

Importing a project runs its code as the panel's user with the panel's Python; reading the
source with ``ast`` does neither. Only module-level literal assignments are understood.
"""
import ast
import os

from . import safe_files

SKIP_DIRS = frozenset(["venv", ".venv", "env", "node_modules", ".git", "__pycache__",
                       "site-packages", "static", "media"])
MAX_SCAN_FILES = 3000
MAX_FILE_BYTES = 1024 * 1024
UWSGI_MODULES = ("uwsgi", "uwsgidecorators")


def _parse(path):
    try:
        data = safe_files.read_bytes(path, MAX_FILE_BYTES)
        if len(data) > MAX_FILE_BYTES:
            return None
        return ast.parse(data, filename=path)
    except (OSError, SyntaxError, ValueError):
        return None


def _str(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, getattr(ast, "Str", ())):  # Python 3.7
        return node.s
    return None


def settings_from_manage(path):
    """``os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'x.settings')`` in manage.py."""
    tree = _parse(path)
    if tree is None:
        return None
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "setdefault" and len(node.args) == 2
                and _str(node.args[0]) == "DJANGO_SETTINGS_MODULE"):
            return _str(node.args[1])
    return None


def _assignments(tree):
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    out[target.id] = node.value
    return out


def _star_imports(tree):
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            yield node.level, node.module or ""


def _module_file(root, dotted):
    base = os.path.join(root, *dotted.split("."))
    for cand in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(cand):
            return cand
    return None


def read_settings(root, module):
    """Literal module-level values of a settings module, following ``from .x import *``."""
    values = {}
    seen = set()

    def visit(dotted, depth):
        path = _module_file(root, dotted)
        if path is None or path in seen or depth > 4:
            return
        seen.add(path)
        tree = _parse(path)
        if tree is None:
            return
        package = dotted if path.endswith("__init__.py") else dotted.rpartition(".")[0]
        for level, mod in _star_imports(tree):
            if level:
                parts = package.split(".")
                parts = parts[:len(parts) - (level - 1)] if level > 1 else parts
                visit(".".join([p for p in parts if p] + ([mod] if mod else [])), depth + 1)
            else:
                visit(mod, depth + 1)
        for name, node in _assignments(tree).items():
            s = _str(node)
            if s is not None:
                values[name] = s
            elif isinstance(node, (ast.List, ast.Tuple)):
                items = [_str(e) for e in node.elts]
                values[name] = [i for i in items if i is not None]

    visit(module, 0)
    return values


def find_manage(project_path):
    for cand in (project_path, ) + tuple(
            os.path.join(project_path, d) for d in sorted(_listdir(project_path))):
        path = os.path.join(cand, "manage.py")
        if os.path.isfile(path):
            return path
    return None


def _listdir(path):
    try:
        return [d for d in os.listdir(path)
                if d not in SKIP_DIRS and os.path.isdir(os.path.join(path, d))]
    except OSError:
        return []


def _dotted_to_app(dotted):
    mod, _, attr = dotted.rpartition(".")
    return "%s:%s" % (mod, attr) if mod else None


def _runs_at_import(tree):
    """The import statements a module executes when it is imported: its body, into if/with/
    for/while and class bodies, but not functions, and not a try whose handler catches the
    ImportError (``try: import uwsgi / except ImportError:`` runs fine without uWSGI)."""
    out = []
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(node)
        elif isinstance(node, ast.Try):
            caught = [ast.dump(h.type) if h.type is not None else "bare" for h in node.handlers]
            if not any(c == "bare" or "ImportError" in c or "ModuleNotFoundError" in c
                       or "'Exception'" in c or "BaseException" in c for c in caught):
                todo += node.body
            todo += node.orelse + node.finalbody
        elif isinstance(node, (ast.If, ast.For, ast.While, ast.With)):
            todo += node.body + getattr(node, "orelse", [])
        elif isinstance(node, ast.ClassDef):
            todo += node.body
    return {id(n) for n in out}


def scan_uwsgi_imports(root, at_import=None):
    """Project files importing uWSGI-only APIs (spooler, cron, locks...): manual work.
    ``at_import`` (a list) also gets those a module runs when it is imported: under
    Gunicorn that import raises ImportError and the module, maybe the app, fails to load."""
    found = []
    count = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")]
        for name in filenames:
            if not name.endswith(".py"):
                continue
            count += 1
            if count > MAX_SCAN_FILES:
                return found
            path = os.path.join(dirpath, name)
            try:
                # the project is the site user's: no FIFO, no link out of it is read
                data = safe_files.read_bytes(path, MAX_FILE_BYTES)
            except OSError:
                continue
            if b"uwsgi" not in data:
                continue
            tree = _parse(path)
            if tree is None:
                continue
            loading = _runs_at_import(tree)
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names = [node.module]
                if any(n.split(".")[0] in UWSGI_MODULES for n in names):
                    found.append("%s:%s" % (path, node.lineno))
                    if at_import is not None and id(node) in loading:
                        at_import.append(found[-1])
    return found


def detect(project_path, env=None):
    """What we can learn about the Django project at ``project_path``.

    ``env`` (dict) may carry ``DJANGO_SETTINGS_MODULE`` from the uWSGI config, which wins
    over manage.py's setdefault just as it does at runtime. Returns a dict with
    ``root``, ``manage_py``, ``settings_module``, ``wsgi_app``, ``asgi_app``, ``asgi``
    (bool: Channels/ASGI indicators), ``static_url``, ``static_root``, ``media_url``,
    ``media_root``, ``uwsgi_imports`` and ``warnings``.
    """
    env = env or {}
    result = {"root": None, "manage_py": None, "settings_module": None, "wsgi_app": None,
              "asgi_app": None, "asgi": False, "static_url": None, "static_root": None,
              "media_url": None, "media_root": None, "uwsgi_imports": [], "uwsgi_imports_at_import": [], "warnings": []}
    manage = find_manage(project_path)
    root = os.path.dirname(manage) if manage else project_path
    result["root"] = root
    result["manage_py"] = manage
    module = env.get("DJANGO_SETTINGS_MODULE") or (settings_from_manage(manage) if manage else None)
    if module is None:
        result["warnings"].append("no manage.py with DJANGO_SETTINGS_MODULE under %s"
                                  % project_path)
    result["settings_module"] = module
    settings = read_settings(root, module) if module else {}
    if module and not _module_file(root, module):
        result["warnings"].append("settings module %s not found under %s" % (module, root))
    package = module.split(".")[0] if module else None
    wsgi = settings.get("WSGI_APPLICATION")
    if isinstance(wsgi, str):
        result["wsgi_app"] = _dotted_to_app(wsgi)
    elif package and os.path.isfile(os.path.join(root, package, "wsgi.py")):
        result["wsgi_app"] = "%s.wsgi:application" % package
    asgi = settings.get("ASGI_APPLICATION")
    if isinstance(asgi, str):
        result["asgi_app"] = _dotted_to_app(asgi)
    elif package and os.path.isfile(os.path.join(root, package, "asgi.py")):
        result["asgi_app"] = "%s.asgi:application" % package
    apps = settings.get("INSTALLED_APPS") or []
    result["asgi"] = bool(isinstance(asgi, str) or "channels" in apps or "daphne" in apps)
    for key in ("STATIC_URL", "STATIC_ROOT", "MEDIA_URL", "MEDIA_ROOT"):
        val = settings.get(key)
        if isinstance(val, str):
            result[key.lower()] = val
    result["uwsgi_imports"] = scan_uwsgi_imports(root, result["uwsgi_imports_at_import"])
    return result
