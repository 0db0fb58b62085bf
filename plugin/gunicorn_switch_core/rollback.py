"""The rollback, as journaled steps with an undo each (see tasks.Runner): start_uwsgi →
restore_nginx (commit point) → remove_carried → restore_boot → stop_gunicorn → forget. Until
nginx is back on uWSGI, Gunicorn serves the site and any failure undoes what was done; after it, uWSGI serves.
The inputs are the switch's record (its backups restore every file byte for byte) and the
nginx files as the switch left them (the undo of restore_nginx writes them back).
"""
from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from . import (backups, boot_apply, daemons, health, host, managers, nginx_live, panel_cron, panel_project, records,
               supervisor_programs, tasks, uwsgi_process)

if TYPE_CHECKING:
    from .shapes import SwitchRecord, Task


def _switch_record(r):
    return r.inputs["record"]


def _uwsgi_side_paths(rec):
    u = rec["uwsgi"]
    out = [u["program_file"]] if u.get("program_file") else []
    if u["manager"] == "emperor" and u.get("config"):
        out.append(u["config"])
    if u["manager"] == "panel_project":
        out += [panel_project.start_script(rec["site"], "gunicorn"), panel_project.pid_file(rec["site"])]
    return out


def start_uwsgi_do(r):
    rec = _switch_record(r)
    u = rec["uwsgi"]
    if uwsgi_process.find_uwsgi(u):
        r.log("uWSGI is already running")
        return
    backups.restore_paths(r, [p for p in _uwsgi_side_paths(rec) if not p.endswith(".pid")],
                          kept=rec["backups"])
    if u["manager"] == "panel_project":
        _restore_project_config(r, rec)
    ok, log = uwsgi_process.start_uwsgi(u)
    r.log(log)
    end = time.monotonic() + health.DEADLINE
    pid = None
    while time.monotonic() < end and not pid:
        pid = uwsgi_process.find_uwsgi(u)
        time.sleep(0.3)
    if not ok or not pid:
        raise tasks.StepError("uWSGI did not start again")
    r.outputs["uwsgi_pid"] = pid
    # uWSGI's sockets need a moment after the master appears: wait for its listen sockets.
    time.sleep(1.0)
    r.log("uWSGI master pid %d" % pid)


def start_uwsgi_undo(r):
    rec = _switch_record(r)
    u = dict(rec["uwsgi"])
    pid = uwsgi_process.find_uwsgi(u)
    if pid:
        # restore_nginx_undo just sent nginx back to Gunicorn: the nginx workers from before
        # that reload may still be waiting on uWSGI, and SIGINT kills uWSGI's requests (they
        # were 502s): let them finish first, as stop_uwsgi does in a switch.
        left = nginx_live.drain(r.outputs.get("old_nginx"), timeout=float(r.inputs.get("drain_timeout") or 30))
        r.log("old nginx workers still busy after the drain: %d" % left)
        u["pid"] = pid
        ok, log = uwsgi_process.stop_uwsgi(u)
        r.log(log)
    if u.get("program_file"):
        # leave the program as the switch left it: autostart off
        path = u["program_file"]
        if os.path.exists(path):
            host.write_atomic(path, supervisor_programs.set_autostart(host.read_text(path), False))
            supervisor_programs.supervisorctl("update", u["detail"])
    if u["manager"] == "panel_project" and rec.get("project_config_switched"):
        panel_project.set_project_config_text(rec["site"], rec["project_config_switched"])
    elif u["manager"] == "panel_project" and rec.get("project_config") is not None:
        conf = dict(rec["project_config"])  # a record from before the text was kept
        conf["stype"] = "gunicorn"
        panel_project.set_project_config(rec["site"], conf)


def _restore_project_config(r, rec):
    if rec.get("project_config_switched"):
        r.log(panel_project.restore_config(rec["site"], rec["project_config_text"],
                                      rec["project_config_switched"]))
    elif rec.get("project_config") is not None:
        # a record from before the config's text was kept (it held the parsed dict)
        panel_project.set_project_config(rec["site"], rec["project_config"])


def restore_nginx_do(r):
    rec = _switch_record(r)
    backups.restore_paths(r, rec["nginx_files"], kept=rec["backups"])
    r.outputs["old_nginx"] = nginx_live.reload(r.log)
    ok, got = health.wait_status(rec["nginx_addr"], rec["domain"], rec["baseline_status"],
                                 deadline=health.DEADLINE)
    r.log("through nginx: GET / -> %s" % got)
    if not ok:
        raise tasks.StepError("through nginx the site answers %s after the restore" % got)


def restore_nginx_undo(r):
    new = r.inputs.get("switched_nginx") or {}
    if new:
        for path, text in new.items():
            host.write_atomic(path, text.encode("utf-8", "surrogateescape"))
        r.outputs["old_nginx"] = nginx_live.reload(r.log)  # drained by start_uwsgi_undo


def remove_carried_do(r):
    """uWSGI runs its own crons and daemons again: the plugin's copies go (the crontab file
    and program files byte for byte)."""
    rec = _switch_record(r)
    if not rec.get("crons") and not rec.get("daemons"):
        return "skipped"
    if rec.get("crons"):
        panel_cron.remove(rec["crons"], lambda p: backups.restore_paths(r, [p], kept=rec["backups"]))
        r.log("removed %d cron job(s) from 计划任务" % len(rec["crons"]["echoes"]))
    # uWSGI, started again, runs its own daemons: the plugin's copies go
    for d in reversed(rec.get("daemons") or []):
        daemons.remove(d, lambda p: backups.restore_paths(r, [p], kept=rec["backups"]))
        r.log("stopped %s (%s)" % (d["name"], daemons.describe(d)))


def restore_boot_do(r):
    """uWSGI's boot entries back as they were (byte for byte), the boot script gone."""
    rec = _switch_record(r)
    if not rec.get("boot"):
        return "skipped"
    boot_apply.restore(rec["boot"], rec["site"], lambda p: backups.entry_for(rec["backups"], p), r.log)


def stop_gunicorn_do(r):
    rec = _switch_record(r)
    nginx_live.drain(r.outputs.get("old_nginx"), timeout=float(r.inputs["drain_timeout"]))
    ok, log = managers.remove(rec)
    r.log(log)
    backups.restore_paths(r, managers.registration_files(rec), kept=rec["backups"])
    if rec["uwsgi"]["manager"] == "panel_project":
        backups.restore_paths(r, [panel_project.start_script(rec["site"], "gunicorn")], kept=rec["backups"])
        if r.outputs.get("uwsgi_pid") and not os.path.exists(panel_project.pid_file(rec["site"])):
            panel_project.write_pid(rec["site"], r.outputs["uwsgi_pid"])
    if not ok:
        raise tasks.StepError("Gunicorn did not stop; uWSGI serves the site again")


def forget_do(r):
    rec = _switch_record(r)
    backups.restore_paths(r, [rec["gunicorn_conf"]], kept=rec["backups"])
    records.delete(rec["site"])
    backups.discard(rec["site"], rec["task_id"])
    r.log("the site is back on uWSGI")


ROLLBACK = tasks.Procedure("rollback", [
    tasks.Step("start_uwsgi", "按原方式启动 uWSGI 并检查", "Start uWSGI the way it ran, and check it",
               start_uwsgi_do, start_uwsgi_undo),
    tasks.Step("restore_nginx", "恢复 nginx 配置（逐字节）并平滑重载", "Restore nginx byte for byte, reload",
               restore_nginx_do, restore_nginx_undo),
    tasks.Step("remove_carried", "移除接管的计划任务和守护进程", "Remove the carried-over crons and daemons",
               remove_carried_do),
    tasks.Step("restore_boot", "恢复 uWSGI 的开机自启（逐字节）", "Restore uWSGI's start at boot byte for byte",
               restore_boot_do),
    tasks.Step("stop_gunicorn", "排空并停止 Gunicorn，移除进程守护", "Drain and stop Gunicorn, unregister it",
               stop_gunicorn_do),
    tasks.Step("forget", "清理切换记录", "Forget the switch", forget_do),
], commit="restore_nginx")


def start_rollback(record: SwitchRecord) -> Task:
    payload = {"record": record, "drain_timeout": 30,
               "switched_nginx": {p: host.read_bytes(p).decode("utf-8", "surrogateescape")
                                  for p in record["nginx_files"] if os.path.exists(p)}}
    def same_record():
        now = records.load(record["site"])
        return now is not None and now.get("task_id") == record.get("task_id")
    task = tasks.create_exclusive("rollback", record["site"], ROLLBACK.listing(), payload, check=same_record)
    task["pid"] = tasks.spawn(task["id"])
    tasks.save(task)
    return task
