"""The command line's words, Chinese and English (the panel's language, or ``--lang``).

Kept apart from i18n.MESSAGES, which holds what the page shows; the language choice is
i18n's, so the core's own messages (refusals, validation) follow ``--lang`` as well.
"""
from . import i18n

EXIT_CODES = (
    "退出码：0 完成或无需改动；1 拒绝执行（会打印原因）；2 输入有误；3 执行失败（切换/回滚已撤销）；"
    "4 内部错误（详见插件日志）；130 等待时被中断（任务在后台继续）",
    "exit codes: 0 done or nothing to change; 1 refused (the reason is printed); 2 bad input; "
    "3 failed (a switch/rollback was undone); 4 internal error (see the plugin's log); "
    "130 interrupted while waiting (the task goes on in the background)",
)

TEXT = {
    "prog": ("Gunicorn 切换助手命令行：页面能做的一切，可用于 SSH 和 Ansible",
             "gunicorn_switch command line: everything the panel page does, for SSH and Ansible"),
    "help": ("显示帮助并退出", "show this help and exit"),
    "lang": ("输出语言（默认跟随面板）", "language of the output (default: the panel's)"),
    "json": ("以 JSON 输出（格式见 README）", "print JSON (shapes in the README)"),
    "site": ("站点名（面板中的站点）", "site name, as the panel knows it"),
    "set": ("切换选项，可重复：workers、threads、worker_class、bind(tcp/unix)、manager、user、"
            "timeout、access_log(on/off)",
            "a switch option, repeatable: workers, threads, worker_class, bind (tcp/unix), "
            "manager, user, timeout, access_log (on/off)"),
    "yes": ("不询问，直接执行（脚本中使用）", "do not ask for confirmation (for scripts)"),
    "sites": ("列出 uWSGI / Gunicorn 上的 Django 站点", "list the Django sites on uWSGI or Gunicorn"),
    "plan": ("显示切换计划：gunicorn_conf.py、nginx 差异、步骤和警告；不改动任何东西",
             "show the switch plan: gunicorn_conf.py, the nginx diff, the steps and warnings; "
             "changes nothing"),
    "switch": ("把站点切换到 Gunicorn（幂等：已按相同设置切换时退出码 0，changed=false）",
               "switch a site to Gunicorn (idempotent: already switched with the same settings "
               "exits 0 with changed=false)"),
    "rollback": ("把站点回滚到 uWSGI（幂等）", "roll a site back to uWSGI (idempotent)"),
    "status": ("Gunicorn 主进程与每个 worker 的状态", "the Gunicorn master and every worker"),
    "watch": ("持续刷新（类似 uwsgitop），按 q 或 Ctrl-C 退出",
              "refresh in place (like uwsgitop); q or Ctrl-C quits"),
    "interval": ("刷新间隔（秒）", "seconds between refreshes"),
    "control": ("平滑重载、增减 worker、重启、停止、启动", "reload, add/remove a worker, restart, stop, start"),
    "op": ("操作", "the operation"),
    "logs": ("查看 Gunicorn 日志", "show Gunicorn's logs"),
    "kind": ("日志类型（journal：systemd 单元的日志）", "which log (journal: the systemd unit's journal)"),
    "lines": ("行数（1 到 2000）", "number of lines (1 to 2000)"),
    "follow": ("持续输出新内容，Ctrl-C 退出", "keep printing new lines; Ctrl-C quits"),
    "nginx": ("只对一个 nginx 文件做改写：uwsgi_pass 改为 proxy_pass，其他字节不变，输出到标准输出",
              "the nginx rewrite alone, on one file: uwsgi_pass becomes proxy_pass, every other "
              "byte unchanged; the new text on stdout"),
    "file": ("nginx 配置文件", "the nginx file"),
    "to": ("新的后端地址：127.0.0.1:PORT 或 unix:/path", "the new backend: 127.0.0.1:PORT or unix:/path"),
    "conf": ("主 nginx.conf，用于解析 include、upstream 和继承的设置（默认：面板的，若它包含该文件）",
             "the main nginx.conf, for includes, upstreams and inherited settings (default: "
             "the panel's, when it includes FILE)"),
    "from": ("只改写指向这个 uWSGI 地址或 upstream 的位置", "only switch what reaches this uWSGI address or upstream"),
    "static_map": ("uWSGI 的 static-map：URL=目录（可重复）", "a uWSGI static-map: URL=DIR (repeatable)"),
    "websocket": ("强制开启/关闭 WebSocket 头（默认自动检测）", "force the WebSocket headers on/off (default: detect)"),
    "export": ("导出站点的 gunicorn_conf.py，供容器使用", "export the site's gunicorn_conf.py for a container"),
    "docker": ("适配 Docker：容器内监听 0.0.0.0:8000，日志到 stdout/stderr，不含面板路径",
               "adapt it to Docker: bind 0.0.0.0:8000 in the container, logs to stdout/stderr, "
               "no panel paths"),
    "out": ("写入此目录（gunicorn_conf.py 和 Dockerfile.gunicorn），默认输出到标准输出",
            "write gunicorn_conf.py and Dockerfile.gunicorn into this directory (default: stdout)"),
    "stats": ("保留状态统计钩子", "keep the status page's stats hooks"),
    "app_dir": ("容器内的项目目录", "the project's directory in the container"),
    "translate": ("把 uWSGI 配置翻译为 gunicorn_conf.py", "translate a uWSGI config to gunicorn_conf.py"),
    "run_task": ("运行切换/回滚任务（由插件启动）", "run a switch/rollback task (started by the plugin)"),
    # messages
    "error": ("错误：{msg}", "error: {msg}"),
    "warning": ("警告：{msg}", "warning: {msg}"),
    "bad_set": ("--set 需要 KEY=VALUE，KEY 为：{keys}；而不是 {value!r}",
                "--set takes KEY=VALUE with KEY one of: {keys}; not {value!r}"),
    "confirm_switch": ("将站点 {site} 切换到 Gunicorn？[y/N] ", "Switch {site} to Gunicorn? [y/N] "),
    "confirm_rollback": ("将站点 {site} 回滚到 uWSGI？[y/N] ", "Roll {site} back to uWSGI? [y/N] "),
    "not_confirmed": ("未确认，没有做任何改动（脚本中请加 --yes）",
                      "not confirmed: nothing was changed (use --yes in scripts)"),
    "switched_same": ("站点 {site} 已按这些设置运行在 Gunicorn 上，无需改动",
                      "{site} already runs on Gunicorn with these settings: nothing to do"),
    "switched_other": ("站点 {site} 已用不同的设置切换（{diff}）：请先回滚再切换",
                       "{site} was switched with other settings ({diff}): roll back first"),
    "switched_down": ("站点 {site} 已切换，但现在没有在 Gunicorn 上正常服务（{detail}）：可用 control {site} start",
                      "{site} was switched but does not serve on Gunicorn now ({detail}): try "
                      "`control {site} start`"),
    "on_uwsgi": ("站点 {site} 已运行在 uWSGI 上，无需回滚", "{site} already runs on uWSGI: nothing to roll back"),
    "task_started": ("任务 {id} 已开始（页面上也能看到）", "task {id} started (the page shows it too)"),
    "switch_done": ("站点 {site} 现在由 Gunicorn 提供服务", "{site} now serves on Gunicorn"),
    "rollback_done": ("站点 {site} 已回到 uWSGI", "{site} is back on uWSGI"),
    "task_failed": ("{kind} 失败（{state}）：{error}", "the {kind} failed ({state}): {error}"),
    "not_serving_after": ("任务完成，但站点 {site} 没有正常服务：{detail}",
                          "the task finished but {site} does not serve: {detail}"),
    "interrupted": ("已停止等待；任务 {id} 在后台继续（页面或 status 可查看）",
                    "stopped waiting; task {id} goes on in the background (see the page or `status`)"),
    "control_pending": ("操作已发出，但 {wait} 秒内没有看到效果", "sent, but its effect was not seen within {wait} s"),
    "bad_address": ("--to 需要 127.0.0.1:PORT 或 unix:/绝对路径，而不是 {value!r}",
                    "--to takes HOST:PORT or unix:/absolute/path, not {value!r}"),
    "bad_static_map": ("--static-map 需要 URL=目录，而不是 {value!r}", "--static-map takes URL=DIR, not {value!r}"),
    "nginx_unreadable": ("无法读取 {path}：{error}", "cannot read {path}: {error}"),
    "nginx_unparseable": ("{path} 不是有效的 nginx 配置：{error}", "{path} is not valid nginx: {error}"),
    "nginx_nothing": ("{path} 中没有需要改写的内容（没有到达 uWSGI 的 uwsgi_pass）",
                      "nothing to change in {path}: no uwsgi_pass reaches uWSGI"),
    "nginx_other_file": ("切换还会修改 {path}（这里只输出 {file}）",
                         "the switch would also change {path} (this command prints {file} only)"),
    "export_only_docker": ("目前只支持 --docker", "only --docker is supported"),
    "export_no_uwsgi": ("读不到站点 {site} 的 uWSGI 配置：{error}", "cannot read the uWSGI config of {site}: {error}"),
    "export_written": ("已写入：{files}", "written: {files}"),
    "export_hooks_off": ("没有统计钩子，uWSGI 的 {names} 不再模拟（加 --stats 可保留）",
                         "without the stats hooks uWSGI's {names} is not emulated (--stats keeps it)"),
    "export_path_left": ("设置 {name} 仍指向面板路径 {value}：请在容器中调整",
                         "setting {name} still names a panel path, {value}: adapt it for the container"),
    "export_no_app": ("没有 wsgi_app：请在 CMD 中加上应用（如 project.wsgi）",
                      "no wsgi_app: add the application (e.g. project.wsgi) to the CMD"),
    "watch_hint": ("按 q 或 Ctrl-C 退出", "q or Ctrl-C quits"),
    "not_running": ("Gunicorn 没有在运行", "Gunicorn is not running"),
    "recent_exits": ("最近退出的 worker：", "recent worker exits:"),
}


def say(key, **kw):
    zh, en = TEXT[key]
    return (en if i18n.lang() == "en" else zh).format(**kw)


def exit_codes():
    return EXIT_CODES[1] if i18n.lang() == "en" else EXIT_CODES[0]
