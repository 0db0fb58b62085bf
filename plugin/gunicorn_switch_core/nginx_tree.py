"""The nginx files a site uses, each read and parsed once, with ``include`` followed as nginx
follows it.

There is one resolver (``resolve_include``: relative to the conf dir, globs in sorted order),
for files on disk and for files already in memory alike, and one walk (``follow``: the files
reachable from a start, depth first in nginx's order). ``Loader`` reads through a given
function and keeps every parse; discovery, the plan and the staging check read through it.
``Tree`` places every directive of a set of files under the block that holds it, across
includes, so that the translation sees nginx's inheritance; it reads nothing itself.

nginx's stock ``uwsgi_params`` is never followed: it is shared by every site and never edited,
and including it means "the standard CGI set" (``is_params_include``).
"""
import collections
import fnmatch
import glob
import os

from . import paths
from .addresses import upstream_name
from .nginx_tokens import NginxConfigError, parse

# nginx allows deeper includes, but no vhost tree needs more, and it bounds a cycle's cost
MAX_INCLUDE_DEPTH = 8
# the panel nginx's conf dir, where relative includes resolve when no nginx.conf is among the files
DEFAULT_CONF_DIR = os.path.dirname(paths.NGINX_CONF)


def is_params_include(arg):
    return "uwsgi_params" in os.path.basename(arg)


def resolve_include(arg, conf_dir, glob_func=glob.glob):
    """The files ``include arg`` reads: relative to the conf dir, globbed in sorted order.
    ``glob_func(pattern) -> paths`` globs elsewhere than on disk (``glob_among``)."""
    path = os.path.normpath(arg if os.path.isabs(arg) else os.path.join(conf_dir or "/", arg))
    if glob.has_magic(path):
        return sorted(glob_func(path))
    return [path]


def glob_among(candidates):
    """A ``glob_func`` over the given paths instead of the disk (``*`` stays in one directory)."""
    def match(pattern):
        depth = pattern.count("/")
        return [c for c in candidates
                if c.count("/") == depth and fnmatch.fnmatchcase(c, pattern)]
    return match


def followed_includes(config):
    """The ``include`` directives of a parsed file whose files are part of the tree."""
    for d in config.walk():
        if d.name == "include" and d.args and not is_params_include(d.args[0]):
            yield d


def follow(start, targets_of, max_depth=MAX_INCLUDE_DEPTH):
    """{path: the path that includes it (None for ``start``)}, depth first in nginx's order.
    ``targets_of(path)`` is the list of files ``path`` includes, or None when ``path`` is not
    there to read (then it is left out)."""
    order = collections.OrderedDict()

    def visit(path, parent, depth):
        if path in order or depth > max_depth:
            return
        targets = targets_of(path)
        if targets is None:
            return
        order[path] = parent
        for target in targets:
            visit(target, path, depth + 1)

    visit(start, None, 0)
    return order


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


class Loader(object):
    """Files read through ``read(path) -> bytes`` and parsed, each once.

    Errors of the kinds in ``tolerate`` leave the file out and are kept in ``problems`` as
    (path, message); any other error is raised.
    """

    def __init__(self, read, conf_dir, glob_func=glob.glob, tolerate=(OSError,)):
        self.read = read
        self.conf_dir = conf_dir
        self.glob_func = glob_func
        self.tolerate = tolerate
        self.data = {}
        self.configs = {}
        self.problems = []

    def config(self, path):
        """The parsed file, or None when it could not be read or parsed (a tolerated error)."""
        if path not in self.configs:
            try:
                data = self.read(path)
                self.configs[path] = parse(data, path)
                self.data[path] = data
            except self.tolerate as e:
                self.configs[path] = None
                self.problems.append((path, str(e)))
        return self.configs[path]

    def targets(self, path):
        """The files ``path`` includes, in order; None when it cannot be read."""
        cfg = self.config(path)
        if cfg is None:
            return None
        return [t for d in followed_includes(cfg)
                for t in resolve_include(d.args[0], self.conf_dir, self.glob_func)]

    def closure(self, start):
        return follow(start, self.targets)

    def tree(self, start):
        """[(path, Config)] for ``start`` and every file it includes, in nginx's order, and
        the files among them that could not be read or parsed, as [(path, message)]."""
        failed = []

        def targets_of(path):
            found = self.targets(path)
            if found is None:
                failed.append(path)
            return found

        order = follow(start, targets_of)
        messages = dict(self.problems)
        return [(p, self.configs[p]) for p in order], [(p, messages[p]) for p in failed]


# discovery reads every vhost: one that cannot be read or parsed is reported, not fatal
LENIENT = (OSError, ValueError)


def load_tree(start, conf_dir, read):
    """``Loader.tree`` of ``start``, read through ``read(path) -> bytes``."""
    return Loader(read, conf_dir, tolerate=LENIENT).tree(start)


# -- the files a site's translation needs ---------------------------------------------------

def site_loader(main_conf_path, vhost_path, read=read_file, glob_func=None):
    """(Loader, [path]): the vhost and everything it includes, then the files of nginx.conf's
    tree that define the upstreams, cache zones and ``$connection_upgrade`` map the site uses,
    or the ``uwsgi_*`` settings it inherits, each with the includes that put it in its context.
    Missing files are skipped, as nginx -t will name them. The site's own files must parse;
    another site's broken file is not ours to judge here."""
    loader = Loader(read, os.path.dirname(main_conf_path), glob_func or glob.glob)
    site = list(loader.closure(vhost_path))
    loader.tolerate = (OSError, NginxConfigError)
    wanted = _used_names([loader.configs[p] for p in site])
    result = list(site)
    tree = loader.closure(main_conf_path)
    for path in tree:
        if path in result or not _provides(loader.configs[path], wanted):
            continue
        chain = []
        while path is not None and path not in result:
            chain.append(path)
            path = tree[path]
        result.extend(reversed(chain))
    return loader, result


def find_site_files(main_conf_path, vhost_path, read_file=read_file, glob_func=None):
    """The paths ``site_loader`` finds; ``read_file(path) -> bytes``, ``glob_func(pattern)``."""
    return site_loader(main_conf_path, vhost_path, read_file, glob_func)[1]


def site_tree(main_conf_path, vhost_path, read=read_file, glob_func=None):
    """The ``Tree`` of the files ``site_loader`` finds, from the one reading and parse."""
    loader, paths = site_loader(main_conf_path, vhost_path, read, glob_func)
    files = collections.OrderedDict((p, loader.data[p]) for p in paths)
    return Tree(files, os.path.dirname(main_conf_path),
                configs=dict((p, loader.configs[p]) for p in paths))


def _used_names(configs):
    wanted = set([("map", "$connection_upgrade")])
    for cfg in configs:
        for d in cfg.walk():
            if d.name in ("uwsgi_pass", "proxy_pass") and d.args:
                wanted.add(("upstream", upstream_name(d.args[0])))
            elif d.name in ("uwsgi_cache", "proxy_cache") and d.args:
                wanted.add(("zone", d.args[0]))
    return wanted


def cache_zone(directive):
    """The zone name of a ``*_cache_path`` directive's ``keys_zone=name:size``, or None."""
    zone = None
    for a in directive.args:
        if a.startswith("keys_zone="):
            zone = a[len("keys_zone="):].split(":", 1)[0]
    return zone


def _provides(cfg, wanted):
    """Does this file define something the site uses, or uwsgi_* settings it inherits?"""
    for d in cfg.walk():
        if d.name == "upstream" and d.args:
            key = ("upstream", d.args[0])
        elif d.name == "map" and len(d.args) >= 2:
            key = ("map", d.args[1])
        elif d.name in ("uwsgi_cache_path", "proxy_cache_path"):
            key = ("zone", cache_zone(d))
        elif d.name.startswith("uwsgi_") and not _inside(d, "server"):
            return True
        else:
            continue
        if key in wanted:
            return True
    return False


def _inside(d, name):
    p = d.parent
    while p is not None:
        if p.name == name:
            return True
        p = p.parent
    return False


# -- the tree of directives -----------------------------------------------------------------

class Node(object):
    """A directive placed in the site's tree: ``parent`` is the enclosing block directive's
    node even when the directive sits in an included file; ``via`` is the child of ``parent``
    written in the parent's own file (the directive itself, or the ``include`` that brought it).
    """

    __slots__ = ("d", "parent", "kids", "via", "file")

    def __init__(self, d, parent, via):
        self.d = d
        self.parent = parent
        self.via = via
        self.kids = []
        self.file = d.filename

    @property
    def name(self):
        return self.d.name

    @property
    def args(self):
        return self.d.args

    def ancestors(self):
        p = self.parent
        while p is not None:
            yield p
            p = p.parent

    def enclosing(self, *names):
        for a in self.ancestors():
            if a.name in names:
                return a
        return None

    def walk(self):
        yield self
        for k in self.kids:
            for x in k.walk():
                yield x


class _Context(object):
    """Stands for the implicit block a root file's top level lives in."""

    def __init__(self, context, filename):
        self.context = context
        self.name = "<%s>" % context
        self.args = []
        self.filename = filename
        self.block = None


class Tree(object):
    """The given files ({path: bytes}), parsed (or as ``configs`` already parsed), with their
    includes followed among them. A file no other includes is a root: one with server blocks
    at its top level is read as included from ``http {}``."""

    def __init__(self, files, conf_dir=None, configs=None):
        self.files = files
        self.configs = configs or dict((p, parse(b, p)) for p, b in files.items())
        self.texts = dict((p, c.text) for p, c in self.configs.items())
        self.conf_dir = conf_dir or self._guess_conf_dir()
        self._glob = glob_among(self.configs)
        # every include counts here, uwsgi_params too: a file included is not a root
        self.included = set()
        for cfg in self.configs.values():
            for d in cfg.walk():
                if d.name == "include" and d.args:
                    self.included.update(self.targets(d))
        roots = [p for p in sorted(self.configs) if p not in self.included]
        self.roots = [self._root_node(p) for p in roots]
        self.nodes = [n for r in self.roots for n in r.walk()]

    def _guess_conf_dir(self):
        for p in self.configs:
            if p.endswith("/nginx.conf"):
                return os.path.dirname(p)
        return DEFAULT_CONF_DIR

    def targets(self, include):
        """The given files that ``include`` directive reads."""
        return [p for p in resolve_include(include.args[0], self.conf_dir, self._glob)
                if p in self.configs]

    def reachable(self, path):
        """``path`` and the files it includes, directly or not, among the given files."""
        def targets_of(p):
            if p not in self.configs:
                return None
            return [t for d in followed_includes(self.configs[p]) for t in self.targets(d)]
        return set(follow(path, targets_of))

    def _root_node(self, path):
        cfg = self.configs[path]
        names = set(d.name for d in cfg.directives)
        context = "main" if "http" in names or "events" in names else (
            "http" if names & set(["server", "upstream", "map"]) else "server")
        root = Node(_Context(context, path), None, None)
        self._expand(cfg.directives, root, None, [path])
        return root

    def _expand(self, directives, parent, via, stack):
        for d in directives:
            node = Node(d, parent, via or d)
            parent.kids.append(node)
            if d.name == "include" and d.args and not is_params_include(d.args[0]):
                for target in self.targets(d):
                    if target in stack:
                        continue  # nginx would loop; we just stop
                    self._expand(self.configs[target].directives, parent, via or d,
                                 stack + [target])
            elif d.block is not None:
                self._expand(d.block, node, None, stack)

    def context_of(self, node):
        """The block name that holds ``node`` ('http', 'server', 'location', ...)."""
        p = node.parent
        if isinstance(p.d, _Context):
            return p.d.context
        return p.name
