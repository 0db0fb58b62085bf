"""Messages for the page, Chinese first and English for aaPanel.

The backend decides the page's language and tells the page (api.get_info), so that the page
and the messages it shows from here never disagree. In order: the page's own ``lang`` argument
(``?lang=`` or the user's choice in 设置, sent with every call), GUNICORN_SWITCH_LANG, then the
panel's setting. aaPanel keeps the user's choice in BTPanel/languages/language.pl and its
default in the ``default`` key of BTPanel/languages/settings.json (codes such as zh, cht, en,
de, fra) and shows English for a language it has no text for; BaoTa has neither file and is
Chinese. So: Simplified Chinese for ``zh`` (or no setting at all), English for anything else,
繁體 (``cht``) included: this plugin has no Traditional Chinese text.
"""
import json
import os
import threading

from . import paths

LANGS = ("zh", "en")
_LOCAL = threading.local()  # the panel runs calls in gevent greenlets: patched to be per-call

MESSAGES = {
    "missing_site": ("请选择站点", "No site given"),
    "bad_site": ("站点名不合法：{name}", "Invalid site name: {name}"),
    "unknown_site": ("面板中没有这个 Python 站点：{name}", "No such Python site in the panel: {name}"),
    "bad_value": ("参数 {name} 的值不合法", "Invalid value for {name}"),
    "unknown_method": ("不支持的操作：{name}", "Unsupported action: {name}"),
    "site_busy": ("站点 {name} 正在切换或回滚，请稍候", "A switch or rollback of {name} is running"),
    "blockers": ("站点 {name} 在 Gunicorn 下可能无法运行：{what}。确认后再切换（confirm_blockers=1）",
                 "{name} may not run under Gunicorn: {what}. Confirm to switch anyway (confirm_blockers=1)"),
    "already_switched": ("站点 {name} 已由本插件切换到 Gunicorn", "{name} was already switched to Gunicorn by this plugin"),
    "not_switched": ("站点 {name} 不是由本插件切换的，无法回滚", "{name} was not switched by this plugin; nothing to roll back"),
    "bad_task": ("任务编号不合法或不存在", "No such task"),
    "opt_not_int": ("{name} 必须是整数，而不是 {value!r}", "{name} must be a whole number, not {value!r}"),
    "opt_range": ("{name} 必须在 {low} 到 {high} 之间", "{name} must be between {low} and {high}"),
    "opt_choice": ("{name} 只能是：{choices}", "{name} must be one of: {choices}"),
    "bad_user": ("用户名不合法：{user}", "Invalid user name: {user}"),
    "no_user": ("系统中没有用户 {user}", "User {user} does not exist on this server"),
    "root_user": ("Gunicorn 的 worker 不能以 root 运行", "Gunicorn workers must not run as root"),
    "ran_as_root": ("uWSGI 以 root 运行且没有设置 uid：Gunicorn 将以 {user} 运行（可另选一个非 root 用户）",
                    "uWSGI ran as root without uid=: Gunicorn runs as {user} (you may choose another user, not root)"),
    "project_unix_bind": ("面板 Python 项目只能用端口描述后端（project_config 的 port 与 proxy_info）：面板每次修改域名都会按它们重写 nginx，"
                          "unix 套接字会被删掉。因此 Gunicorn 改为监听 127.0.0.1 上的一个端口",
                          "A panel Python project knows its backend only as a port (project_config's port and proxy_info), and the "
                          "panel rewrites nginx from them on every domain edit, which would drop a unix socket: Gunicorn binds "
                          "a port on 127.0.0.1 instead"),
    "unsafe_path": ("{error}", "{error}"),
    "venv_place": ("虚拟环境 {venv} 不在面板使用的目录中（{places}）或项目目录下：插件不会在其中运行 pip",
                   "The virtualenv {venv} is outside the panel's places ({places}) and the project: the plugin runs no pip there"),
    "venv_owner": ("虚拟环境 {venv} 属于用户 {owner}，既不是 root 也不是站点用户 {user}",
                   "The virtualenv {venv} belongs to uid {owner}, neither root nor the site's user {user}"),
    "venv_root_writable": ("虚拟环境 {venv} 属于 root，但 {path} 可被其他用户修改：以 root 运行 pip 不安全。请以站点用户安装 Gunicorn，或修正权限",
                           "The virtualenv {venv} is root's but {path} can be changed by another user: pip will not run there as root. Install Gunicorn as the site's user, or fix the permissions"),
    "untrusted_master": ("进程 {pid}（{exe}，用户 {user}）看起来是 uWSGI，但不是以 root 或站点用户从虚拟环境（或仅 root 可改）的 uwsgi 运行：不予信任",
                         "Process {pid} ({exe}, user {user}) looks like uWSGI but does not run as root or the site's user from the venv's uwsgi (or one only root can change): not trusted"),
    "log_unreadable": ("无法读取日志 {path}：{error}", "Cannot read the log {path}: {error}"),
    "plan_first": ("请先查看切换计划：switch 需要 plan 返回的 plan_id（或明确传 plan_and_apply=1）",
                   "Review the plan first: switch takes the plan_id that plan returned (or plan_and_apply=1, explicitly)"),
    "bad_plan": ("切换计划不存在或已过期（1 小时），请重新查看计划", "No such plan, or it expired (1 hour): review a new plan"),
    "plan_changed": ("站点 {name} 在生成计划后发生了变化，请重新查看计划",
                     "The site {name} changed since the plan; review the new plan"),
    "no_supervisor": ("未安装进程守护管理器（Supervisor 插件）", "The Supervisor plugin is not installed"),
    "not_project": ("只有面板的 Python 项目才能交给项目管理器运行",
                    "Only panel Python projects can be run by the panel's project manager"),
    "on_gunicorn": ("站点 {name} 已经在 Gunicorn 上运行", "{name} already runs on Gunicorn"),
    "no_uwsgi": ("站点 {name} 的 uWSGI 没有在运行：请先启动它（切换需要与它并行运行）",
                 "{name} has no running uWSGI: start it first, the switch runs next to it"),
    "no_venv": ("找不到站点 {name} 的虚拟环境", "Cannot find the virtualenv of {name}"),
    "uwsgi_unreadable": ("无法读取站点 {name} 的 uWSGI 配置：{error}", "Cannot read the uWSGI config of {name}: {error}"),
    "nginx_unreadable": ("无法改写站点 {name} 的 nginx 配置：{error}",
                         "Cannot rewrite the nginx config of {name}: {error}"),
    "nginx_nothing": ("站点 {name} 的 nginx 配置中没有需要切换的内容", "The nginx config of {name} has nothing to switch"),
    "not_serving": ("站点 {name} 现在通过 nginx 访问不正常（GET / -> {status}），请先修复再切换",
                    "{name} does not answer through nginx now (GET / -> {status}): fix it before switching"),
    "internal_error": ("内部错误（编号 {ref}），详情见日志 {log}",
                       "Internal error (ref {ref}); details in {log}"),
    # status and control (issue 6)
    "status_not_running": ("Gunicorn 没有在运行", "Gunicorn is not running"),
    "status_unmanaged": (
        "这个 Gunicorn 不是本插件启动的，只能显示进程信息（PID、运行时长、CPU、内存）。"
        "通过本插件切换该站点，或在它的 gunicorn_conf.py 中加入统计钩子，即可看到请求数、"
        "延迟、忙闲和正在处理的请求",
        "This Gunicorn was not started by the plugin, so only process data (PID, age, CPU, "
        "memory) is shown. Switch the site with the plugin, or add the stats hooks to its "
        "gunicorn_conf.py, to see requests, latency, busy workers and requests in progress"),
    "status_no_stats": (
        "工作进程没有写入统计数据（目录 {dir}）：请检查该目录的权限，或重新生成 gunicorn_conf.py",
        "The workers write no stats (directory {dir}): check its permissions, or regenerate "
        "gunicorn_conf.py"),
    "status_timeouts": (
        "最近一小时有 {n} 个工作进程因超时被杀：请提高 timeout 或优化慢请求",
        "{n} worker(s) were killed for timeout in the last hour: raise timeout or speed up "
        "the slow requests"),
    "status_oom": (
        "最近一小时有 {n} 个工作进程被 SIGKILL 结束，可能是内存不足：请减少工作进程数或增加内存",
        "{n} worker(s) were ended by SIGKILL in the last hour, perhaps out of memory: run fewer "
        "workers or add memory"),
    "status_somaxconn": (
        "backlog = {backlog} 超过 net.core.somaxconn = {cap}：内核把排队上限限制为 {cap}，"
        "请用 sysctl 调高 net.core.somaxconn",
        "backlog = {backlog} exceeds net.core.somaxconn = {cap}: the kernel caps the queue at "
        "{cap}; raise net.core.somaxconn (sysctl)"),
    "status_saturated": (
        "已饱和：{queue} 个连接在监听队列中等待，已持续 {seconds} 秒。",
        "Saturated: {queue} connection(s) waiting in the listen queue for {seconds} s."),
    "advice_add_workers": (
        "建议增加 {n} 个工作进程：按实测每个约 {per} MB，约需 {mb} MB 内存",
        "Add {n} worker(s): about {mb} MB more memory ({per} MB each, measured)"),
    "advice_no_memory": (
        "空闲内存不足以增加工作进程（每个约 {per} MB，空闲 {free} MB）：请查看下方的慢请求（P95 {p95} ms）",
        "Not enough free memory for more workers ({per} MB each, {free} MB free): look at "
        "the slow requests below (p95 {p95} ms)"),
    "advice_slow": (
        "最近 10 分钟有 {n} 次超时：增加进程只会让更多请求排队，请优化下方的慢请求或提高 timeout（P95 {p95} ms）",
        "{n} timeout(s) in the last 10 minutes: more workers only queue more of them; speed "
        "up the slow requests below or raise timeout (p95 {p95} ms)"),
    "no_rotation": ("{path} 中没有日志切割的设置：请重新切换以生成新的 gunicorn_conf.py",
                    "No log rotation settings in {path}: switch again to regenerate gunicorn_conf.py"),
    "not_managed": ("该站点不是本插件切换的，不能执行此操作：{name}",
                    "The plugin did not switch this site, so it cannot do that: {name}"),
    "bad_op": ("不支持的操作：{name}", "Unsupported operation: {name}"),
    "bad_kind": ("日志类型只能是 error、access 或 journal",
                 "The log kind must be error, access or journal"),
    "no_journal": ("只有由 systemd 管理的站点才有 journal 日志：{name}",
                   "Only a site run by systemd has a journal: {name}"),
    "journal_failed": ("读取 journalctl -u {unit} 失败：{error}",
                       "journalctl -u {unit} failed: {error}"),
    # the plan's carried-over rows (carried_text.py)
    "carried_daemon_supervisor": ("进程守护管理器（Supervisor）中的程序，与 Gunicorn 并列",
                                  "a program of the Supervisor plugin (进程守护管理器), next to Gunicorn's"),
    "carried_daemon_systemd": ("独立的 systemd 单元（开机启动）", "a systemd unit of its own (enabled at boot)"),
    "carried_daemon_panel": ("项目启动脚本启动的守护循环（面板的启动/重启按钮和开机都会运行它）",
                             "a restart loop the project's start script starts (the panel's start/restart "
                             "buttons and boot run it)"),
    "carried_daemon_loop": ("插件启动并记录的守护循环（开机脚本也会启动它）",
                            "a restart loop the plugin starts and records (the boot script starts it too)"),
    "carried_daemon_plain": ("{command}（以站点用户运行，工作目录 {cwd}；在 uWSGI 停止前启动，uWSGI 的副本随 uWSGI 一起停止）",
                             "{command} (as the site's user, in {cwd}; started before uWSGI stops, "
                             "uWSGI's copy stops with uWSGI)"),
    "carried_daemon_smart": ("{command}（以站点用户运行，工作目录 {cwd}；与 uWSGI 相同，只有当 {pidfile} "
                             "中的进程不存在时监视器才启动它：沿用 uWSGI 正在运行的副本而不重复启动，监视器停止时它继续运行{notify}）",
                             "{command} (as the site's user, in {cwd}; a watcher starts it only when "
                             "{pidfile} names no live process, as uWSGI does: the copy uWSGI runs is "
                             "adopted, not duplicated, and is left running when the watcher stops{notify})"),
    "carried_daemon_notify": ("，并收到 SIG{sig}", ", which then sends it SIG{sig}"),
    "carried_cron_where": ("面板计划任务", "the panel's cron (计划任务)"),
    "carried_cron_detail": ("{schedule}  {command}  （{name}{extra}）", "{schedule}  {command}  ({name}{extra})"),
    "carried_cron_unique": ("，不重复执行（flock）", ", never two at once (flock)"),
    "carried_cron_harakiri": ("，{seconds} 秒后强制结束", ", killed after {seconds} s"),
    "carried_cron_no_cycle": ("；面板的周期编辑器无法显示这个时间表：在面板中编辑它只会整体替换",
                              "; the panel's cycle editor cannot show this schedule: edit it there only "
                              "to replace it"),
    "carried_reload_where": ("gunicorn_conf.py 中的文件监视（Gunicorn 主进程里的线程）",
                             "a file watcher in gunicorn_conf.py (a thread of the Gunicorn master)"),
    "carried_reload_detail": ("{path} 变化时向主进程发送 SIG{sig}（uWSGI 的 {option}）",
                              "SIG{sig} to the master when {path} changes (uWSGI: {what})"),
    "unit_not_master": ("systemd 单元 {unit} 的主进程是 {pid}，而不是 Gunicorn 主进程 {master}，未重载",
                        "Not reloaded: the main process of systemd unit {unit} is {pid}, not "
                        "the Gunicorn master {master}"),
    "bad_lines": ("行数必须是 1 到 {max} 之间的整数", "lines must be an integer from 1 to {max}"),
    "not_running": ("Gunicorn 没有在运行：{name}", "Gunicorn is not running: {name}"),
    "no_conf_workers": ("在 {path} 中找不到 workers = N 这一行", "No 'workers = N' line in {path}"),
    "min_workers": ("至少要保留 1 个工作进程", "At least one worker must remain"),
    "no_log": ("该站点没有配置{kind}日志", "The site has no {kind} log"),
    "log_outside": ("日志路径 {path} 不在站点日志目录 {dir} 中，拒绝读取",
                    "Refusing to read {path}: it is outside the site's log directory {dir}"),
    "no_managers": ("进程管理模块尚未安装", "The process manager module is not available"),
    "uninstall_busy": ("站点 {names} 正在切换或回滚，请等任务结束后再卸载插件",
                       "A switch or rollback of {names} is running: uninstall the plugin when it ends"),
    # boot persistence (issue 14 §3)
    "boot_none": ("该站点不会开机自启。开机自启：启用 —— gunicorn-switch control {site} enable-boot"
                  "（在 root 的计划任务中添加 @reboot 运行 {script}），或安装进程守护管理器（Supervisor）后回滚并重新切换",
                  "This site does not start at boot. 开机自启 (start at boot): enable it — "
                  "gunicorn-switch control {site} enable-boot (an @reboot line in root's crontab that "
                  "runs {script}), or install the Supervisor plugin, then roll back and switch again"),
    "boot_where": ("开机自启：{where}", "Starts at boot: {where}"),
    # a boot entry the switch leaves as it is (boot.REASONS), on the plan's page
    "boot_initd_disabled": ("{file} 存在，但未设为开机启动（rc2.d–rc5.d 中没有 S 链接）：不修改",
                            "{file} is present but not enabled at boot (no S link in rc2.d-rc5.d): "
                            "left as it is"),
    "boot_other_user": ("{file} 中这一行以 {run_as} 运行，而站点的 uWSGI 以 {user} 运行：只提示，不修改",
                        "this line of {file} runs as {run_as}, the site's uWSGI as {user}: reported, "
                        "not edited"),
    "uninstall_ok": ("可以卸载：已切换的站点会保持现状继续运行",
                     "Ready to uninstall: switched sites keep running as they are"),
}


def _panel_code():
    """The panel's language code, or "" on a panel without a language setting (BaoTa)."""
    folder = paths.real(paths.PANEL + "/BTPanel/languages")
    try:
        with open(os.path.join(folder, "language.pl"), encoding="utf-8") as fh:
            chosen = fh.read().strip()
        if chosen:
            return chosen
    except OSError:
        pass
    try:
        with open(os.path.join(folder, "settings.json"), encoding="utf-8") as fh:
            return str(json.load(fh).get("default") or "").strip()
    except (OSError, ValueError, AttributeError):
        return ""


def panel_lang():
    """The language the panel shows: zh or en."""
    v = os.environ.get("GUNICORN_SWITCH_LANG")
    if v:
        return "en" if v.lower().startswith("en") else "zh"
    code = _panel_code().lower().replace("_", "-")
    return "zh" if code in ("", "zh", "zh-cn", "zh-hans", "cn") else "en"


def lang():
    return getattr(_LOCAL, "lang", None) or panel_lang()


class use(object):
    """``with i18n.use(lang):`` messages of one call in the page's language (None: the panel's)."""

    def __init__(self, wanted):
        self.wanted = wanted if wanted in LANGS else None

    def __enter__(self):
        self.saved = getattr(_LOCAL, "lang", None)
        _LOCAL.lang = self.wanted
        return self

    def __exit__(self, *exc):
        _LOCAL.lang = self.saved


def t(key, lang_=None, **kw):
    """The message ``key`` in ``lang_`` (default: this call's language)."""
    zh, en = MESSAGES[key]
    return (en if (lang_ or lang()) == "en" else zh).format(**kw)
