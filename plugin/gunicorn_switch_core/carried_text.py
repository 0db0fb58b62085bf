"""The plan's carried-over rows (uWSGI's daemons, crons and reload files) in the page's
language: where each one goes under the process manager chosen, and what it does there.

The translation (uwsgi_jobs, uwsgi_rules_handover) keeps its English ``detail`` for the task
log and the tests of the translation; the page is Chinese first, so the plan shows these
words instead. Boot rows are worded by boot.carried_items.
"""
from . import i18n

# where a carried daemon runs, by the manager that runs Gunicorn (daemons.install)
DAEMON_WHERE = {
    "supervisor": "carried_daemon_supervisor",
    "systemd": "carried_daemon_systemd",
    "panel_project": "carried_daemon_panel",
    "daemon": "carried_daemon_loop",
}


def _daemon(item, manager, lang):
    job = item["job"]
    where = i18n.t(DAEMON_WHERE.get(manager, "carried_daemon_loop"), lang)
    smart = job.get("smart")
    if smart:
        notify = i18n.t("carried_daemon_notify", lang, sig=smart["notify"]) \
            if smart.get("notify") else ""
        detail = i18n.t("carried_daemon_smart", lang, command=job["command"], cwd=job["cwd"],
                        pidfile=smart["pidfile"], notify=notify)
    else:
        detail = i18n.t("carried_daemon_plain", lang, command=job["command"], cwd=job["cwd"])
    return where, detail


def _cron(item, manager, lang):
    job = item["job"]
    extra = ""
    if job.get("unique"):
        extra += i18n.t("carried_cron_unique", lang)
    if job.get("harakiri"):
        extra += i18n.t("carried_cron_harakiri", lang, seconds=job["harakiri"])
    detail = i18n.t("carried_cron_detail", lang, schedule=job["schedule"],
                    command=job["command"], name=job["name"], extra=extra)
    if job.get("cycle") is None:
        detail += i18n.t("carried_cron_no_cycle", lang)
    return i18n.t("carried_cron_where", lang), detail


def _reload(item, manager, lang):
    facts = item["facts"]
    return i18n.t("carried_reload_where", lang), i18n.t(
        "carried_reload_detail", lang, sig=facts["signal"], path=facts["path"],
        option=item["option"], what=facts["what"])


WORDING = {"daemon": _daemon, "cron": _cron, "reload": _reload}


def localize(items, manager, lang):
    """The rows with ``where`` and ``detail`` in ``lang`` ("zh"/"en"); rows of other kinds
    as they are."""
    out = []
    for item in items:
        word = WORDING.get(item.get("kind"))
        if word is not None:
            where, detail = word(item, manager, lang)
            item = dict(item, where=where, detail=detail)
        out.append(item)
    return out
