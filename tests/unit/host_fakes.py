"""Fakes of the host layer for unit tests of plan, discover and managers: system users
(a pwd table and host.User), stat results, and psutil processes. Installed with monkeypatch
(fixtures in tests/unit/conftest.py), so that no test needs real users or processes."""
import os
import stat
import types

# name -> (uid, gid, home)
USERS = {
    "root": (0, 0, "/root"),
    "toor": (0, 0, "/root"),  # a second name for uid 0
    "www": (1000, 1000, "/home/www"),
    "alice": (1001, 1001, "/home/alice"),
}


class FakePw(object):
    def __init__(self, name):
        self.pw_name = name
        self.pw_uid, self.pw_gid, self.pw_dir = USERS[name]


class FakePwd(object):
    """The few calls of the pwd module the core makes."""

    @staticmethod
    def getpwnam(name):
        if name not in USERS:
            raise KeyError(name)
        return FakePw(name)

    @staticmethod
    def getpwuid(uid):
        for name, entry in USERS.items():
            if entry[0] == uid:
                return FakePw(name)
        raise KeyError(uid)


class FakeUser(object):
    """host.User over the fake table."""

    def __init__(self, name):
        pw = FakePwd.getpwnam(name)
        self.name, self.uid, self.gid, self.home = name, pw.pw_uid, pw.pw_gid, pw.pw_dir
        self.gids = {self.gid}

    @property
    def owner(self):
        return (self.uid, self.gid)

    def group_name(self):
        return self.name

    def env(self, extra_path=None, base=None):
        """Just who and where: what the code under test adds to it is what a test looks at."""
        return {"PATH": "%s:/usr/bin:/bin" % extra_path if extra_path else "/usr/bin:/bin",
                "HOME": self.home, "USER": self.name}

    def __repr__(self):
        return "FakeUser(%r)" % self.name


def fake_user_for_uid(uid):
    try:
        return FakeUser(FakePwd.getpwuid(uid).pw_name)
    except KeyError:
        return None


def stat_result(uid=0, mode=0o755, kind=stat.S_IFDIR):
    """An os.stat_result with only what the code looks at: owner and mode."""
    return os.stat_result((kind | mode, 0, 0, 1, uid, uid, 0, 0, 0, 0))


def os_with(**overrides):
    """A stand-in for a module's ``os`` with some functions replaced (os.path stays real)."""
    fake = types.SimpleNamespace(**{k: getattr(os, k) for k in dir(os) if not k.startswith("__")})
    for k, v in overrides.items():
        setattr(fake, k, v)
    return fake


class FakeProc(object):
    """A psutil.Process as far as the core asks: info, cmdline, uids, exe, cwd, parent."""

    def __init__(self, pid, cmdline, uid=0, exe="", cwd="/", parent=None, ppid=1):
        self.pid = pid
        self.info = {"pid": pid, "ppid": ppid, "cmdline": cmdline, "name": os.path.basename(
            cmdline[0]) if cmdline else ""}
        self._uid, self._exe, self._cwd, self._parent = uid, exe, cwd, parent

    def cmdline(self):
        return self.info["cmdline"]

    def uids(self):
        return types.SimpleNamespace(real=self._uid, effective=self._uid, saved=self._uid)

    def exe(self):
        return self._exe

    def cwd(self):
        return self._cwd

    def parent(self):
        return self._parent
