"""The panel API in plain Python: one function per method, arguments as a dict of strings.

``call()`` is the panel's contract (docs/ARCHITECTURE.md, facts: panel envelope): every
method returns {status, msg, data} and never raises. Bad input is a clear message in the page's language; an unexpected error is a short
message, and its traceback goes to the plugin's own log, not to the page.
"""
from __future__ import annotations

import logging
import os
import traceback
from typing import TYPE_CHECKING

from . import (__version__, discover, history, i18n, paths, plan as planning, plans, records,
               rollback as rolling_back, switch as switching, tasks)
from . import control as ctl, log_rotation, logs, safe_text, sites_db, status

if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional

    from .shapes import Args, Plan, Reply, Task

LOG = logging.getLogger("gunicorn_switch")
# What a key or value the panel hands us may look like: the panel itself allows keys
# matching ^[\w\s\[\]\-\.]+$; values are free text and are validated per argument.
MAX_VALUE = 4096


class BadInput(Exception):
    """An argument the page sent is wrong; the message says which and why."""


class BadSite(BadInput):
    """The site named is malformed or unknown: bad input, not a refusal (the CLI's exit 2)."""


def _log_file():
    return os.path.join(paths.real(paths.PLUGIN_STATE), "logs", "plugin.log")


def _logger():
    if not LOG.handlers:
        path = _log_file()
        try:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            handler = logging.FileHandler(path)
        except OSError:
            handler = logging.NullHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        LOG.addHandler(handler)
        LOG.setLevel(logging.INFO)
        LOG.propagate = False
    return LOG


def args_of(get: Any) -> Args:
    """The panel's `get` (dict_obj: string attributes) as a dict of str -> str."""
    items = getattr(get, "__dict__", None)
    if items is None and isinstance(get, dict):
        items = get
    out = {}
    for k, v in (items or {}).items():
        if isinstance(k, str) and isinstance(v, str) and not k.startswith("_"):
            out[k] = v
    return out


def require_site(args: Args, sites: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """The site named by args['site'], which must be one discovery knows; else BadInput."""
    name = args.get("site", "")
    if not name:
        raise BadSite(i18n.t("missing_site"))
    if len(name) > 253 or not records.SITE_NAME.match(name):
        raise BadSite(i18n.t("bad_site", name=name[:80]))
    for s in sites if sites is not None else discover.get_sites():
        if s["site"] == name:
            return s
    raise BadSite(i18n.t("unknown_site", name=name))


def get_info(args: Args) -> Dict[str, Any]:
    """The page's first call: which release answers, and the language the page should show.
    Quick on purpose (two small files): the panel waits on it under gevent."""
    return {"version": __version__, "lang": i18n.lang(), "panel_lang": i18n.panel_lang()}


def get_sites(args: Args) -> List[Dict[str, Any]]:
    return discover.get_sites()


def plan(args: Args) -> Plan:
    facts = discover.gather()  # once: discovery is the slow part of a plan
    site = require_site(args, discover.get_sites(facts))
    try:
        p = planning.make_plan(site["site"], args, facts=facts)
    except planning.PlanError as e:
        raise BadInput(str(e))
    p["plan_id"] = plans.save(p)
    p["worker_classes"] = list(planning.WORKER_CLASSES)  # the page's choices for the option
    return p


def _refuse_if_busy(site):
    if tasks.site_busy(site) or any(t["state"] in ("pending", "running") for t in tasks.all_tasks(site)):
        raise BadInput(i18n.t("site_busy", name=site))


def switch(args: Args) -> Dict[str, str]:
    tasks.recover_all()
    facts = discover.gather()
    site = require_site(args, discover.get_sites(facts))
    _refuse_if_busy(site["site"])
    if records.load(site["site"]):
        raise BadInput(i18n.t("already_switched", name=site["site"]))
    plan_id = args.get("plan_id", "")
    if plan_id:
        # the plan the user confirmed, applied as it was shown (its port, its nginx diff),
        # unless anything it was made from changed since
        p = plans.load(plan_id)
        if p is None or p.get("site") != site["site"]:
            raise BadInput(i18n.t("bad_plan"))
        if plans.digest(p["inputs"]) != p["digest"]:
            raise BadInput(i18n.t("plan_changed", name=site["site"]))
    elif args.get("plan_and_apply") == "1":
        try:
            p = planning.make_plan(site["site"], args, facts=facts)
        except planning.PlanError as e:
            raise BadInput(str(e))
    else:
        raise BadInput(i18n.t("plan_first"))
    if p.get("blockers") and str(args.get("confirm_blockers", "")).lower() not in ("1", "true", "yes"):
        raise BadInput(i18n.t("blockers", name=site["site"],
                              what="; ".join(b["message"] for b in p["blockers"])))
    try:
        task = switching.start_switch(p)
    except tasks.Busy:  # another call won the race since _refuse_if_busy
        raise BadInput(i18n.t("site_busy", name=site["site"]))
    plans.discard(plan_id)
    return {"task_id": task["id"]}


def rollback(args: Args) -> Dict[str, str]:
    tasks.recover_all()
    site = require_site(args)
    _refuse_if_busy(site["site"])
    rec = records.load(site["site"])
    if not rec:
        raise BadInput(i18n.t("not_switched", name=site["site"]))
    try:
        return {"task_id": rolling_back.start_rollback(rec)["id"]}
    except tasks.Busy:  # another call won the race since _refuse_if_busy
        raise BadInput(i18n.t("site_busy", name=site["site"]))


def get_task(args: Args) -> Task:
    task_id = args.get("task_id", "")
    if not tasks.TASK_ID.match(task_id):
        raise BadInput(i18n.t("bad_task"))
    try:
        task = tasks.load(task_id)
    except (OSError, ValueError):
        raise BadInput(i18n.t("bad_task"))
    return tasks.view(tasks.recover(task))


def _discovery_unless_switched(args):
    """The discovery entry of the site a status/control/logs call names, or None for a site
    the plugin switched. The page polls get_status, so a switched site is checked against
    the panel's sites table only; a full discovery scans every process on the host."""
    name = args.get("site", "")
    if records.valid_site(name) and records.load(name) is not None:
        require_site(args, sites=[{"site": s["name"]} for s in sites_db.read_sites()])
        return None
    return require_site(args)


def _int_arg(args, name, default, low, high, message):
    value = args.get(name, "")
    if value == "":
        return default
    if not safe_text.digits(value) or not low <= int(value) <= high:
        raise BadInput(message)
    return int(value)


def get_status(args: Args) -> Dict[str, Any]:
    return status.get_status(args.get("site"), _discovery_unless_switched(args))


def control(args: Args) -> Dict[str, Any]:
    op = args.get("op", "")
    if op not in ctl.OPS:
        raise BadInput(i18n.t("bad_op", name=op[:40]))
    info = _discovery_unless_switched(args)
    try:
        return ctl.control(args["site"], op, info)
    except ctl.ControlError as e:
        raise BadInput(str(e)) from None


def get_logs(args: Args) -> Dict[str, Any]:
    kind = args.get("kind") or "error"
    if kind not in logs.KINDS:
        raise BadInput(i18n.t("bad_kind"))
    lines = _int_arg(args, "lines", 200, 1, logs.MAX_LINES,
                     i18n.t("bad_lines", max=logs.MAX_LINES))
    _discovery_unless_switched(args)
    try:
        return logs.get_logs(args["site"], kind, lines)
    except logs.LogError as e:
        raise BadInput(str(e)) from None


def running_tasks():
    """Sites with a switch or rollback pending or running (its runner alive or not)."""
    return sorted({t["site"] for t in tasks.all_tasks() if t["state"] in ("pending", "running")})


def uninstall_check():
    """The panel's hook before uninstall: {"status": True, msg} refuses (facts: panel envelope)."""
    try:
        busy = running_tasks()
    except Exception:  # the state dir unreadable: nothing we could finish anyway  # noqa: BLE001
        busy = []
    if busy:
        return {"status": True, "msg": i18n.t("uninstall_busy", names=", ".join(busy))}
    return {"status": False, "msg": i18n.t("uninstall_ok")}


def get_history(args: Args) -> Dict[str, Any]:
    span = _int_arg(args, "span", 3600, 1, 86400, i18n.t("bad_value", name="span"))
    if span not in history.HISTORY_SPANS:
        raise BadInput(i18n.t("bad_value", name="span"))
    _discovery_unless_switched(args)
    return history.get_history(args["site"], span)


def get_log_rotation(args: Args) -> Dict[str, Any]:
    _discovery_unless_switched(args)
    try:
        return log_rotation.get(args["site"])
    except log_rotation.RotationError as e:
        raise BadInput(str(e)) from None


def set_log_rotation(args: Args) -> Dict[str, Any]:
    _discovery_unless_switched(args)
    values = {}
    for key, (low, high) in log_rotation.LIMITS.items():
        if args.get(key, "") != "":
            values[key] = _int_arg(args, key, None, low, high,
                                   i18n.t("opt_range", name=key, low=low, high=high))
    try:
        return log_rotation.put(args["site"], values)
    except log_rotation.RotationError as e:
        raise BadInput(str(e)) from None


METHODS = {
    "get_info": get_info,
    "get_sites": get_sites,
    "get_status": get_status,
    "control": control,
    "get_logs": get_logs,
    "get_history": get_history,
    "get_log_rotation": get_log_rotation,
    "set_log_rotation": set_log_rotation,
    "plan": plan,
    "switch": switch,
    "rollback": rollback,
    "get_task": get_task,
}


def invoke(method, args):
    """Run one method on a dict of str -> str; raises BadInput. The command line calls this
    so that it can tell bad input from a refusal; the panel goes through call()."""
    for k, v in args.items():
        if len(v) > MAX_VALUE or "\x00" in v:
            raise BadInput(i18n.t("bad_value", name=k[:40]))
    fn = METHODS.get(method)
    if fn is None:
        raise BadInput(i18n.t("unknown_method", name=str(method)[:40]))
    return fn(args)


def internal_error(method, error):
    """Log the traceback of an unexpected error; the short message that names the log."""
    ref = "%x" % (abs(hash((method, str(error)))) & 0xFFFFFF)
    try:
        _logger().error("%s failed [%s]\n%s", method, ref, traceback.format_exc())
    except Exception:  # logging must not turn an error into a crash  # noqa: S110
        pass
    return i18n.t("internal_error", ref=ref, log=_log_file())


def call(method: str, get: Any) -> Reply:
    """Run one panel method: {status, msg, data}, never an exception."""
    try:
        args = args_of(get)
    except Exception:  # noqa: BLE001 - an odd `get` is the same as no arguments
        args = {}
    with i18n.use(args.get("lang")):
        return _call(method, args)


def _call(method, args):
    try:
        data = invoke(method, args)
        return {"status": True, "msg": "ok", "data": data}
    except BadInput as e:
        return {"status": False, "msg": str(e), "data": None}
    except Exception as e:  # the contract: never raise to the panel
        return {"status": False, "msg": internal_error(method, e), "data": None}
