"""Check rewritten nginx files with ``nginx -t`` against the full live configuration, before
anything is put in place.

The live files are read and their includes followed through ``nginx_tree``, as the plan read
them. The changed files are written to a temporary directory together with a copy of every file
on an include path that leads to one of them (starting from the main nginx.conf); in those
copies the ``include`` arguments are made absolute, globs are expanded into one include per file
where a staged copy has to take an original's place, and the staged copies are named instead of
the originals. Relative paths other than includes (``mime.types``, certificates) resolve against the
directory of the ``-c`` file, so the staged main conf's directory mirrors the live conf dir with
symlinks. ``pid``/``error_log`` stay as they are: ``nginx -t`` never writes a pid into the pid
file, but it does create it (empty) when it is missing; we remove such an empty file again.
"""
import os
import re
import shutil
import subprocess
import tempfile

from . import nginx_tree
from .nginx_edit import Editor, quote
from .nginx_tokens import NginxConfigError

_PREFIX = re.compile(r"--prefix=(\S+)")


def nginx_prefix(nginx_bin, conf_path):
    """The ``-p`` prefix nginx would use: Baota's layout ``<prefix>/conf/nginx.conf``, else the
    compiled-in ``--prefix``."""
    conf_dir = os.path.dirname(os.path.abspath(conf_path))
    if os.path.basename(conf_dir) == "conf":
        return os.path.dirname(conf_dir) + "/"
    try:
        out = subprocess.run([nginx_bin, "-V"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, timeout=30).stdout
        m = _PREFIX.search(out.decode("utf-8", "replace"))
        if m:
            return m.group(1).rstrip("/") + "/"
    except (OSError, subprocess.SubprocessError):
        pass
    return os.path.dirname(conf_dir) + "/"


class _Stager(object):
    def __init__(self, conf_path, new_files, workdir):
        self.conf_dir = os.path.dirname(os.path.abspath(conf_path))
        self.new_files = dict((os.path.abspath(p), b) for p, b in new_files.items())
        self.workdir = workdir
        self.staged = {}  # original path -> staged path
        self.leads = {}  # memo: does this file lead to a changed file?
        # nothing tolerated: a file on the way that cannot be read or parsed fails the check
        self.files = nginx_tree.Loader(self.content, self.conf_dir, tolerate=())

    def content(self, path):
        return self.new_files[path] if path in self.new_files else nginx_tree.read_file(path)

    def config(self, path):
        return self.files.config(path)

    def _targets(self, path):
        if path not in self.new_files and not os.path.isfile(path):
            return None  # nginx -t names a missing include itself
        return self.files.targets(path)

    def leads_to_change(self, path):
        if path not in self.leads:
            self.leads[path] = any(p in self.new_files
                                   for p in nginx_tree.follow(path, self._targets))
        return self.leads[path]

    def stage(self, path, name=None):
        if path in self.staged:
            return self.staged[path]
        name = name or "%03d_%s" % (len(self.staged), os.path.basename(path))
        staged = os.path.join(self.workdir, name)
        self.staged[path] = staged
        cfg = self.config(path)
        ed = Editor(cfg.text, path)
        for d in cfg.walk():
            if d.name != "include" or not d.args:
                continue
            targets = nginx_tree.resolve_include(d.args[0], self.conf_dir)
            changed = [t for t in targets if self.leads_to_change(t)]
            if changed:
                paths = [self.stage(t) if t in changed else t for t in targets]
                ed.replace(d, ["include %s;" % quote(p) for p in paths])
            elif not os.path.isabs(d.args[0]):
                # keep the glob; the absolute form finds the same files from the temp dir
                ed.set_arg(d, 0, quote(os.path.join(self.conf_dir, d.args[0])))
        with open(staged, "wb") as f:
            f.write(ed.result())
        return staged

    def mirror_conf_dir(self):
        """Symlinks to the live conf dir's entries so relative paths resolve as they do live."""
        for entry in os.listdir(self.conf_dir):
            link = os.path.join(self.workdir, entry)
            if not os.path.lexists(link):
                os.symlink(os.path.join(self.conf_dir, entry), link)


def _pid_path(main_config, prefix):
    for d in main_config.directives:
        if d.name == "pid" and d.args:
            return d.args[0] if os.path.isabs(d.args[0]) else os.path.join(prefix, d.args[0])
    return os.path.join(prefix, "logs/nginx.pid")


def stage_and_test(nginx_bin, conf_path, new_files, prefix=None, keep_dir=None):
    """Run ``nginx -t`` on the live configuration with ``new_files`` ({path: bytes}) in place
    of the originals. Returns ``(ok, output)``; nothing outside a temp dir is written.
    ``keep_dir`` (a directory) is used instead of a temp dir and left for inspection."""
    conf_path = os.path.abspath(conf_path)
    workdir = keep_dir or tempfile.mkdtemp(prefix="gunicorn_switch_nginx_")
    try:
        stager = _Stager(conf_path, new_files, workdir)
        try:
            main = stager.stage(conf_path, name=os.path.basename(conf_path))
        except NginxConfigError as e:
            return False, str(e)
        except (IOError, OSError) as e:
            return False, "cannot read nginx config: %s" % e
        missing = [p for p in stager.new_files if p not in stager.staged]
        if missing:
            return False, "not reached by any include from %s: %s" % (conf_path,
                                                                     ", ".join(sorted(missing)))
        stager.mirror_conf_dir()
        prefix = prefix or nginx_prefix(nginx_bin, conf_path)
        pid = _pid_path(stager.config(conf_path), prefix)
        pid_existed = pid is None or os.path.exists(pid)
        cmd = [nginx_bin, "-t", "-p", prefix, "-c", main]
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  timeout=60)
        except (OSError, subprocess.SubprocessError) as e:
            return False, "cannot run %s: %s" % (nginx_bin, e)
        finally:
            # nginx -t creates a missing pid file (empty) to prove it could; an empty pid
            # file next to a stopped nginx confuses init scripts, so it goes again
            if not pid_existed and os.path.isfile(pid) and os.path.getsize(pid) == 0:
                os.unlink(pid)
        output = proc.stdout.decode("utf-8", "replace")
        # speak of the files the user knows, not of our staged copies
        for original, staged in sorted(stager.staged.items(), key=lambda kv: -len(kv[1])):
            output = output.replace(staged, original)
        return proc.returncode == 0, output
    finally:
        if keep_dir is None:
            shutil.rmtree(workdir, ignore_errors=True)
