/*
 * gunicorn_switch panel page. Runs inside the panel's page (jQuery 2.2.4 + layer), injected
 * into a layer dialog; ES5 only. One global: `gswitch`. The panel re-runs this file each time
 * the dialog opens: the code is defined once, and `gswitch.init()` binds the newest dialog.
 *
 * Timers: every timer goes through gswitch.later(name, ...) and every request through
 * gswitch.call(); when the dialog is closed (its element leaves the document) teardown()
 * clears the timers, aborts the requests, disposes the charts and closes our sub-dialogs.
 */
(function (window, $) {
  'use strict';
  // tools/build_dist.py writes the release's version here and in index.html's ?v=.
  var VERSION = '__GSWITCH_VERSION__';
  var STAMPED = VERSION.indexOf('__') !== 0; // a checkout's page has no version of its own
  if (window.gswitch && window.gswitch.loaded) {
    // The panel's page outlives an upgrade of the plugin: run this release's code, not the
    // one the window kept from before.
    if (window.gswitch.version === VERSION) {
      window.gswitch.init();
      return;
    }
    if (window.gswitch.root) window.gswitch.teardown();
  }

  var PLUGIN = 'gunicorn_switch';
  var TASK_POLL_MS = 1000;
  var STATUS_POLL_MS = 3000;
  var LOG_POLL_MS = 2000;
  var HISTORY_MS = 5 * 60 * 1000;
  var WORKER_CLASSES = ['sync', 'gthread', 'gevent', 'asgi', 'uvicorn_worker.UvicornWorker'];

  var I18N = {
    zh: {
      plugin_title: 'Gunicorn 切换器',
      tab_sites: '站点', tab_status: '状态', tab_logs: '日志', tab_settings: '设置', tab_about: '关于',
      refresh: '刷新', loading: '正在加载…', count: '共 {n} 个站点',
      col_site: '站点', col_server: '运行方式', col_manager: '管理方式', col_path: '项目路径',
      col_upstream: '上游/绑定', col_action: '操作',
      no_sites: '没有发现运行在 uWSGI 或 Gunicorn 上的 Django 站点',
      help_sites_1: '列出服务器上运行在 uWSGI 上的 Django 站点，以及已由 Gunicorn 运行的站点。',
      help_sites_2: '切换前会先展示计划：将写入的 gunicorn_conf.py、nginx 改动和每个步骤，确认后才会执行。',
      server_uwsgi: 'uWSGI', server_gunicorn: 'Gunicorn', server_stopped: '已停止', server_unknown: '未知',
      mgr_supervisor: 'Supervisor', mgr_panel_project: 'Python项目', mgr_daemon: '守护进程',
      managed: '由本插件管理',
      act_switch: '切换到 Gunicorn', act_rollback: '回滚到 uWSGI', act_status: '状态',
      act_logs: '日志', act_progress: '查看进度', task_running_mark: '任务进行中',
      plan_loading: '正在生成切换计划…', plan_title: '切换计划：{site}', plan_failed: '无法生成切换计划：{msg}',
      plan_replanning: '正在按新选项重新生成计划…',
      plan_options: '选项（修改后自动重新生成计划）', plan_summary: '概要',
      plan_warnings: '注意事项', plan_steps: '执行步骤',
      blockers_title: '切换后站点可能无法运行，仍要切换？',
      plan_carried: '从 uWSGI 接管的功能', carried_reload: '重载文件', carried_cron: '计划任务',
      carried_daemon: '守护进程', carried_boot: '开机自启', carried_where: '接管到',
      plan_conf: '将写入的 gunicorn_conf.py', plan_diff: 'nginx 配置改动', plan_none: '无',
      plan_start: '开始切换', cancel: '取消', plan_invalid: '当前选项无法生成计划，请先修改选项',
      plan_busy: '计划正在重新生成，请稍候',
      opt_workers: '工作进程数', opt_threads: '每进程线程数', opt_worker_class: 'Worker 类型',
      opt_bind: '监听方式', opt_bind_tcp: 'TCP 端口（127.0.0.1）', opt_bind_unix: 'Unix 套接字',
      opt_timeout: '超时（秒）', opt_manager: '进程守护',
      opt_access_log: 'Gunicorn 访问日志', opt_access_on: '记录（与 uWSGI 相同）',
      opt_access_off: '关闭（nginx 已记录，省 CPU）',
      sum_bind: '新监听地址', sum_manager: '进程守护', sum_version: 'Gunicorn 版本',
      sum_conf_path: '配置文件', sum_installed: '（已安装）',
      switch_starting: '正在启动切换任务…', rollback_starting: '正在启动回滚任务…',
      rollback_confirm_title: '回滚到 uWSGI',
      rollback_confirm: '确定把站点 {site} 回滚到 uWSGI 吗？将按原方式启动 uWSGI、逐字节恢复 nginx 配置，然后停止 Gunicorn。',
      task_switch_title: '切换到 Gunicorn：{site}', task_rollback_title: '回滚到 uWSGI：{site}',
      task_log: '步骤日志：{step}', task_log_empty: '（暂无输出）',
      task_pending: '等待开始…', task_running: '正在执行，可以关闭此窗口，任务会在后台继续',
      task_serving_gunicorn: '{site} 已由 Gunicorn 提供服务（{secs} 秒），正在收尾：停止 uWSGI…',
      task_serving_uwsgi: '{site} 已由 uWSGI 提供服务（{secs} 秒），正在收尾：停止 Gunicorn…',
      task_ok_switch: '切换成功：{site} 现在由 Gunicorn 运行',
      task_ok_rollback: '回滚成功：{site} 已恢复为 uWSGI 运行',
      task_rolled_back: '失败，已全部恢复原状，站点保持原样运行。原因：{error}',
      task_failed_committed: '在提交点之后失败：nginx 已经指向新的服务，但以下步骤没有完成：{left}。原因：{error}。请查看步骤日志处理后重试，或回滚。',
      task_failed: '失败，且未能完全恢复。原因：{error}。请查看步骤日志。',
      task_poll_failed: '无法获取任务进度：{msg}（任务仍在后台执行）',
      task_retry: '重试', task_view_status: '查看状态', close: '关闭', close_bg: '关闭（后台继续）',
      step_pending: '等待', step_running: '执行中', step_done: '完成', step_failed: '失败',
      step_undone: '已撤销', step_skipped: '跳过',
      status_site: '站点', status_pick: '请选择站点', status_none: '还没有运行在 Gunicorn 上的站点，请先在「站点」中切换一个。',
      status_not_running: 'Gunicorn 没有在运行',
      m_master: '主进程', m_version: '版本', m_bind: '监听', m_age: '运行时长', m_workers: '工作进程',
      m_requests: '请求总数', m_rps: '请求/秒', m_rss: '内存合计', m_busy: '忙碌', m_config: '配置',
      col_pid: 'PID', col_age: '运行时长', col_cpu: 'CPU', col_rss: '内存', col_requests: '请求数',
      m_queue: '监听队列 / 上限', m_busy_ratio: '忙碌率', sat_badge: '已饱和',
      col_rps: '请求/秒', col_avg: '平均耗时', col_pct: 'P50 / P95 / P99（1 分钟）', m_pct: '耗时 P50 / P95 / P99（近 1 分钟）', col_state: '状态', col_current: '当前请求',
      w_busy: '忙碌', w_idle: '空闲', w_exiting: '退出中', w_replaced: '替换了 {pid}（{cause}）',
      exit_rss: '内存', exit_rss_seen: '最后测得内存', exit_stacks: '查看 {n} 个线程的调用栈',
      exits_title: '最近退出的工作进程', exit_time: '时间', exit_cause: '原因', exit_detail: '详情',
      cause_timeout: '超时', cause_oom: '内存不足', cause_max_requests: '达到 max_requests',
      cause_reload_on_rss: '内存超限', cause_memory: '内存守护（超过上限，平滑退出）',
      rot_memory: '每个 worker 内存上限（MB，0 = 关闭）', rot_memory_help: '超过上限的 worker 处理完当前请求后退出，每次一个。', cause_max_lifetime: '达到最长寿命', cause_crash: '崩溃',
      cause_signal: '被信号结束', cause_exit: '正常退出',
      btn_reload: '平滑重载', btn_add: '+1 worker', btn_remove: '−1 worker', btn_restart: '重启', btn_start: '启动',
      op_reload: '正在平滑重载…', op_add_worker: '正在增加 worker…', op_remove_worker: '正在减少 worker…',
      op_restart: '正在重启…', op_start: '正在启动…', btn_enable_boot: '开机自启：启用',
      op_enable_boot: '正在设置开机自启…', op_done_enable_boot: '已设置开机自启',
      op_done_reload: '已平滑重载：{n} 个新 worker', op_done_add_worker: '已增加 1 个 worker，共 {n} 个',
      op_done_remove_worker: '已减少 1 个 worker，共 {n} 个', op_done_restart: '已重启，主进程 PID {pid}',
      op_done_start: '已启动，主进程 PID {pid}', op_partial: '操作已发出，但在等待时间内没有看到全部生效，请稍后查看',
      restart_confirm: '确定重启站点 {site} 的 Gunicorn 吗？重启期间会有短暂的请求失败；平滑重载不会。',
      restart_confirm_lossless: '确定重启站点 {site} 的 Gunicorn 吗？新的主进程在同一个监听套接字上启动（Gunicorn 的 USR2 升级），就绪后旧的主进程才平滑退出，请求不会失败。',
      charts_title: '最近几分钟（每个 worker 一条线）', chart_rps: '请求/秒', chart_cpu: 'CPU %', chart_rss: '内存 MB',
      charts_missing: '图表组件 echarts 未加载，只显示表格。',
      updated: '更新于 {time}', unmanaged_note: '该站点不是本插件切换的：只能平滑重载',
      logs_site: '站点', logs_kind: '日志', logs_error: '错误日志', logs_access: '访问日志',
      logs_lines: '行数', logs_follow: '自动刷新', logs_empty: '（日志为空）',
      logs_none: '还没有由本插件切换的站点，日志在切换后可用。',
      soon_settings: '默认 worker 数、超时等更多设置即将推出。',
      hist_title: '历史（由 Gunicorn 主进程每 10 秒记录，页面关闭时也在记录）', hist_5m: '5 分钟', hist_1h: '1 小时', hist_24h: '24 小时',
      hist_rps: '请求/秒', hist_p95: 'P95 耗时（ms）', hist_busy: '忙碌率（%）', hist_rss: '内存合计（MB）', hist_empty: '还没有历史记录（每 10 秒一条）',
      rot_title: '日志切割', rot_help: 'Gunicorn 的错误日志和访问日志超过大小或时间后改名为 .1、.2…，由站点自己的 Gunicorn 主进程（站点用户）完成，不丢任何一行。',
      rot_max_mb: '单个文件上限（MB）', rot_age: '最长时间（小时，0 = 不按时间）', rot_keep: '保留份数', rot_save: '保存',
      rot_saved: '已保存，约 1 秒内生效（不需要重启）：{conf}',
      language: '界面语言', lang_auto: '跟随面板', lang_saved: '界面语言已切换',
      version_mismatch: '页面版本 {page} 与插件后端版本 {backend} 不一致：请刷新浏览器页面；如果仍不一致，请重启面板。',
      err_http: '请求失败（HTTP {code}），请稍后重试',
      err_timeout: '请求超时，请稍后重试',
      err_network: '无法连接到面板，请检查网络',
      err_parse: '面板返回了无法识别的数据',
      err_unknown: '操作失败',
      about_1: '把 Django 站点从 uWSGI 安全地切换到 Gunicorn，并在之后管理它。',
      about_2: '自动发现站点：运行中的进程、nginx 配置、面板网站列表、Supervisor 与 Python 项目。',
      about_3: '零停机切换：先在新端口启动 Gunicorn 并做健康检查，再平滑切换 nginx，最后停止 uWSGI。',
      about_4: '任何一步失败都会原样恢复，站点始终在线；也可以随时回滚到 uWSGI。',
      about_5: '切换后：查看 worker 状态、平滑重载、增减 worker、查看日志。'
    },
    en: {
      plugin_title: 'Gunicorn Switch',
      tab_sites: 'Sites', tab_status: 'Status', tab_logs: 'Logs', tab_settings: 'Settings', tab_about: 'About',
      refresh: 'Refresh', loading: 'Loading…', count: '{n} site(s)',
      col_site: 'Site', col_server: 'Server', col_manager: 'Manager', col_path: 'Project path',
      col_upstream: 'Bind', col_action: 'Action',
      no_sites: 'No Django site running on uWSGI or Gunicorn was found',
      help_sites_1: 'Django sites on this server that run on uWSGI, and the ones already running on Gunicorn.',
      help_sites_2: 'Before a switch you see the plan: the gunicorn_conf.py to write, the nginx change and every step. Nothing happens until you confirm.',
      server_uwsgi: 'uWSGI', server_gunicorn: 'Gunicorn', server_stopped: 'Stopped', server_unknown: 'Unknown',
      mgr_supervisor: 'Supervisor', mgr_panel_project: 'Python project', mgr_daemon: 'Daemon',
      managed: 'Managed by this plugin',
      act_switch: 'Switch to Gunicorn', act_rollback: 'Roll back to uWSGI', act_status: 'Status',
      act_logs: 'Logs', act_progress: 'Progress', task_running_mark: 'A task is running',
      plan_loading: 'Preparing the switch plan…', plan_title: 'Switch plan: {site}', plan_failed: 'Cannot plan the switch: {msg}',
      plan_replanning: 'Planning again with the new options…',
      plan_options: 'Options (the plan is made again when you change one)', plan_summary: 'Summary',
      plan_warnings: 'Warnings', plan_steps: 'Steps',
      blockers_title: 'The site may not run after the switch. Switch anyway?',
      plan_carried: 'Carried over from uWSGI', carried_reload: 'Reload file', carried_cron: 'Cron job',
      carried_daemon: 'Daemon', carried_boot: 'Start at boot', carried_where: 'Now in',
      plan_conf: 'gunicorn_conf.py to be written', plan_diff: 'nginx change', plan_none: 'None',
      plan_start: 'Start the switch', cancel: 'Cancel', plan_invalid: 'No plan for these options: change them first',
      plan_busy: 'The plan is being made again, please wait',
      opt_workers: 'Workers', opt_threads: 'Threads per worker', opt_worker_class: 'Worker class',
      opt_bind: 'Bind', opt_bind_tcp: 'TCP port (127.0.0.1)', opt_bind_unix: 'Unix socket',
      opt_timeout: 'Timeout (s)', opt_manager: 'Process manager',
      opt_access_log: 'Gunicorn access log', opt_access_on: 'On (as uWSGI)',
      opt_access_off: 'Off (nginx logs requests; saves CPU)',
      sum_bind: 'New bind', sum_manager: 'Process manager', sum_version: 'Gunicorn version',
      sum_conf_path: 'Config file', sum_installed: ' (installed)',
      switch_starting: 'Starting the switch…', rollback_starting: 'Starting the rollback…',
      rollback_confirm_title: 'Roll back to uWSGI',
      rollback_confirm: 'Roll {site} back to uWSGI? uWSGI is started the way it ran, nginx is restored byte for byte, then Gunicorn is stopped.',
      task_switch_title: 'Switch to Gunicorn: {site}', task_rollback_title: 'Roll back to uWSGI: {site}',
      task_log: 'Step log: {step}', task_log_empty: '(no output yet)',
      task_pending: 'Waiting to start…', task_running: 'Running. You may close this window: the task goes on in the background',
      task_serving_gunicorn: '{site} is serving on Gunicorn ({secs} s); finishing: stopping uWSGI…',
      task_serving_uwsgi: '{site} is serving on uWSGI ({secs} s); finishing: stopping Gunicorn…',
      task_ok_switch: 'Switched: {site} now runs on Gunicorn',
      task_ok_rollback: 'Rolled back: {site} runs on uWSGI again',
      task_rolled_back: 'Failed, and everything was restored: the site runs as before. Reason: {error}',
      task_failed_committed: 'Failed after the commit point: nginx already points at the new server, but these steps did not finish: {left}. Reason: {error}. Check the step logs, then retry or roll back.',
      task_failed: 'Failed, and the restore was incomplete. Reason: {error}. Check the step logs.',
      task_poll_failed: 'Cannot read the task\'s progress: {msg} (the task goes on in the background)',
      task_retry: 'Retry', task_view_status: 'View status', close: 'Close', close_bg: 'Close (keeps running)',
      step_pending: 'Pending', step_running: 'Running', step_done: 'Done', step_failed: 'Failed',
      step_undone: 'Undone', step_skipped: 'Skipped',
      status_site: 'Site', status_pick: 'Pick a site', status_none: 'No site runs on Gunicorn yet: switch one under Sites first.',
      status_not_running: 'Gunicorn is not running',
      m_master: 'Master', m_version: 'Version', m_bind: 'Bind', m_age: 'Up', m_workers: 'Workers',
      m_requests: 'Requests', m_rps: 'Req/s', m_rss: 'Memory', m_busy: 'Busy', m_config: 'Config',
      col_pid: 'PID', col_age: 'Age', col_cpu: 'CPU', col_rss: 'RSS', col_requests: 'Requests',
      m_queue: 'Listen queue / backlog', m_busy_ratio: 'Busy ratio', sat_badge: 'saturated',
      col_rps: 'Req/s', col_avg: 'Avg', col_pct: 'P50 / P95 / P99 (1 min)', m_pct: 'Latency P50 / P95 / P99 (last minute)', col_state: 'State', col_current: 'Current request',
      w_busy: 'busy', w_idle: 'idle', w_exiting: 'exiting', w_replaced: 'replaced {pid} ({cause})',
      exit_rss: 'RSS', exit_rss_seen: 'last seen RSS', exit_stacks: 'stacks of {n} thread(s)',
      exits_title: 'Recent worker exits', exit_time: 'Time', exit_cause: 'Cause', exit_detail: 'Detail',
      cause_timeout: 'timeout', cause_oom: 'out of memory', cause_max_requests: 'max_requests',
      cause_reload_on_rss: 'memory limit', cause_memory: 'memory guard (over the limit, retired gracefully)',
      rot_memory: 'Memory limit per worker (MB, 0 = off)', rot_memory_help: 'A worker over the limit finishes its request and retires, one at a time.', cause_max_lifetime: 'max lifetime', cause_crash: 'crash',
      cause_signal: 'signal', cause_exit: 'exit',
      btn_reload: 'Graceful reload', btn_add: '+1 worker', btn_remove: '−1 worker', btn_restart: 'Restart', btn_start: 'Start',
      op_reload: 'Reloading…', op_add_worker: 'Adding a worker…', op_remove_worker: 'Removing a worker…',
      op_restart: 'Restarting…', op_start: 'Starting…', btn_enable_boot: '开机自启 (start at boot): enable',
      op_enable_boot: 'Enabling start at boot…', op_done_enable_boot: 'Starts at boot now',
      op_done_reload: 'Reloaded: {n} new worker(s)', op_done_add_worker: 'Added a worker: {n} now',
      op_done_remove_worker: 'Removed a worker: {n} now', op_done_restart: 'Restarted, master PID {pid}',
      op_done_start: 'Started, master PID {pid}', op_partial: 'Sent, but the whole effect was not seen in time; check again shortly',
      restart_confirm: 'Restart Gunicorn of {site}? Some requests fail while it restarts; a graceful reload does not.',
      restart_confirm_lossless: 'Restart Gunicorn of {site}? A new master starts on the same listening socket (Gunicorn\'s USR2 upgrade) and the old one drains only once it is up: no request fails.',
      charts_title: 'Last minutes (one line per worker)', chart_rps: 'Req/s', chart_cpu: 'CPU %', chart_rss: 'RSS MB',
      charts_missing: 'The echarts library is not loaded: tables only.',
      updated: 'Updated {time}', unmanaged_note: 'The plugin did not switch this site: reload only',
      logs_site: 'Site', logs_kind: 'Log', logs_error: 'Error log', logs_access: 'Access log',
      logs_lines: 'Lines', logs_follow: 'Follow', logs_empty: '(the log is empty)',
      logs_none: 'No site was switched by this plugin yet: logs are there after a switch.',
      soon_settings: 'More settings (default workers, timeouts) are coming soon.',
      hist_title: 'History (recorded every 10 s by the Gunicorn master, page open or not)', hist_5m: '5 min', hist_1h: '1 hour', hist_24h: '24 hours',
      hist_rps: 'Req/s', hist_p95: 'P95 latency (ms)', hist_busy: 'Busy (%)', hist_rss: 'Memory (MB)', hist_empty: 'No history yet (one record every 10 s)',
      rot_title: 'Log rotation', rot_help: 'Gunicorn\'s error and access logs are renamed to .1, .2… when they pass the size or the age, by the site\'s own Gunicorn master (as the site user), without losing a line.',
      rot_max_mb: 'Max file size (MB)', rot_age: 'Max age (hours, 0 = size only)', rot_keep: 'Files kept', rot_save: 'Save',
      rot_saved: 'Saved; in effect within a second, no restart: {conf}',
      language: 'Language', lang_auto: 'Same as the panel', lang_saved: 'Language changed',
      version_mismatch: 'This page is version {page} but the plugin\'s backend is {backend}: reload the browser page; if that does not help, restart the panel.',
      err_http: 'Request failed (HTTP {code}), please try again',
      err_timeout: 'The request timed out, please try again',
      err_network: 'Cannot reach the panel, please check the connection',
      err_parse: 'The panel returned data that could not be read',
      err_unknown: 'The operation failed',
      about_1: 'Moves a Django site from uWSGI to Gunicorn safely, and then runs it.',
      about_2: 'Finds sites from running processes, nginx vhosts, the panel\'s sites, Supervisor programs and Python projects.',
      about_3: 'Zero-downtime switch: Gunicorn starts on a new bind and is health-checked, then nginx is switched gracefully, then uWSGI is stopped.',
      about_4: 'Any failure restores everything as it was, and the site keeps serving; you can roll back to uWSGI at any time.',
      about_5: 'Afterwards: worker status, graceful reload, add or remove workers, logs.'
    }
  };

  var STORE_KEY = 'gswitch_lang';
  var TASK_KEY = 'gswitch_task_';

  function stored(key) {
    try { return window.localStorage ? window.localStorage.getItem(key) : null; } catch (e) { return null; }
  }

  function store(key, value) {
    try {
      if (!window.localStorage) return;
      if (value === null) window.localStorage.removeItem(key); else window.localStorage.setItem(key, value);
    } catch (e) { /* private mode: the choice lasts for this page only */ }
  }

  /*
   * The page's language comes from the backend (get_info: the panel's language setting), so
   * that the page and the backend's messages agree. Only two things override it, and both are
   * sent to the backend with every call: ?lang= in the page's address, and the user's choice in
   * 设置. The document's title and <html lang> say nothing: BaoTa 11 shows plugins inside an
   * <html lang="en"> iframe titled 插件管理.
   */
  function langOverride() {
    var m = /[?&]lang=(zh|en)(?:&|$)/.exec(window.location.search || '');
    if (m) return m[1];
    var choice = stored(STORE_KEY);
    return choice === 'zh' || choice === 'en' ? choice : null;
  }

  /* Before the backend has answered (or when it cannot): BaoTa's language, Chinese. */
  function fallbackLang() {
    return /aapanel/i.test(document.title || '') ? 'en' : 'zh';
  }

  function esc(value) {
    if (value === null || value === undefined) return '';
    return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
  }

  function num(v, digits) {
    if (v === null || v === undefined || v === '' || isNaN(v)) return '-';
    return digits === undefined ? String(v) : Number(v).toFixed(digits);
  }

  function mb(bytes) {
    if (bytes === null || bytes === undefined) return '-';
    return (bytes / 1048576).toFixed(1) + ' MB';
  }

  function duration(sec) {
    if (sec === null || sec === undefined || isNaN(sec)) return '-';
    sec = Math.max(0, Math.floor(sec));
    if (sec < 60) return sec + 's';
    if (sec < 3600) return Math.floor(sec / 60) + 'm' + (sec % 60 ? ' ' + (sec % 60) + 's' : '');
    if (sec < 86400) return Math.floor(sec / 3600) + 'h ' + Math.floor(sec % 3600 / 60) + 'm';
    return Math.floor(sec / 86400) + 'd ' + Math.floor(sec % 86400 / 3600) + 'h';
  }

  function pad2(n) { return n < 10 ? '0' + n : String(n); }

  function clock(epochSeconds) {
    var d = epochSeconds ? new Date(epochSeconds * 1000) : new Date();
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
  }

  var gswitch = {
    loaded: true,
    version: VERSION,
    backendVersion: null,
    panelLang: null,
    i18n: I18N,
    lang: 'zh',
    root: null,
    sites: [],
    timers: {},
    xhrs: [],
    layers: {},
    charts: [],
    hcharts: [],
    observer: null,
    status: {site: null, gen: 0, inflight: false, data: null, hist: null},
    logs: {site: null, kind: 'error', lines: 200, follow: false, inflight: false},
    task: null,

    t: function (key, vars) {
      var text = (I18N[gswitch.lang] && I18N[gswitch.lang][key]) || I18N.zh[key] || key;
      if (vars) {
        text = text.replace(/\{(\w+)\}/g, function (m, name) {
          return vars.hasOwnProperty(name) ? vars[name] : m;
        });
      }
      return text;
    },

    esc: esc,

    /* Bind the newest dialog on the page (the panel may have opened it again). */
    init: function () {
      var roots = $('.gswitch').not('[data-gswitch-ready]');
      if (!roots.length) return;
      if (gswitch.root) gswitch.teardown();
      var root = roots.last();
      root.attr('data-gswitch-ready', '1');
      gswitch.root = root;
      gswitch.lang = langOverride() || gswitch.panelLang || fallbackLang();
      gswitch.translate();
      root.find('.gswitch-lang').val(stored(STORE_KEY) || 'auto');
      gswitch.bind(root);
      gswitch.watchClose();
      gswitch.loadInfo(function () {
        gswitch.showTab('sites');
        gswitch.loadSites();
      });
    },

    /* get_info: the backend's version and language, before anything else is shown. */
    loadInfo: function (then) {
      function apply() {
        var lang = langOverride() || gswitch.panelLang || fallbackLang();
        if (lang !== gswitch.lang) {
          gswitch.lang = lang;
          gswitch.translate();
        }
        gswitch.showVersion();
        then();
      }
      gswitch.call('get_info', {}, function (data) {
        data = data || {};
        gswitch.backendVersion = data.version ? String(data.version) : null;
        gswitch.panelLang = data.panel_lang === 'en' || data.panel_lang === 'zh' ? data.panel_lang : null;
        apply();
      }, {loading: false, quiet: true, timeout: 10000, fail: apply});
    },

    showVersion: function () {
      var root = gswitch.root;
      if (!root) return;
      var backend = gswitch.backendVersion;
      root.find('.gswitch-version').text(backend || (STAMPED ? VERSION : '-'));
      root.find('.gswitch-version-notice').remove();
      if (!STAMPED || backend === VERSION) return;
      $('<div class="gswitch-version-notice mb15"></div>')
        .text(gswitch.t('version_mismatch', {page: VERSION, backend: backend || '?'}))
        .prependTo(root.find('.bt-w-con').first());
    },

    bind: function (root) {
      root.on('click', '.gswitch-menu p', function () {
        gswitch.showTab($(this).attr('data-tab'));
      });
      root.on('click', '.gswitch-refresh', function () { gswitch.loadSites(); });
      root.on('click', '.gswitch-act-switch', function () {
        gswitch.showPlan($(this).closest('tr').attr('data-site'));
      });
      root.on('click', '.gswitch-act-rollback', function () {
        gswitch.confirmRollback($(this).closest('tr').attr('data-site'));
      });
      root.on('click', '.gswitch-act-progress', function () {
        var site = $(this).closest('tr').attr('data-site');
        var saved = gswitch.savedTask(site);
        if (saved) gswitch.openTask(site, saved.id, saved.kind);
      });
      root.on('click', '.gswitch-act-status', function () {
        gswitch.status.site = $(this).closest('tr').attr('data-site');
        gswitch.showTab('status');
      });
      root.on('click', '.gswitch-act-logs', function () {
        gswitch.logs.site = $(this).closest('tr').attr('data-site');
        gswitch.showTab('logs');
      });
      root.on('change', '.gswitch-lang', function () {
        var value = $(this).val();
        store(STORE_KEY, value === 'auto' ? null : value);
        gswitch.lang = langOverride() || gswitch.panelLang || fallbackLang();
        gswitch.translate();
        gswitch.showVersion();
        gswitch.renderSites();
        gswitch.fillSiteSelects();
        layer.msg(gswitch.t('lang_saved'), {icon: 1});
      });
      // 状态
      root.on('change', '.gswitch-status-site', function () {
        gswitch.status.site = $(this).val() || null;
        gswitch.resetStatus();
        gswitch.pollStatus();
      });
      root.on('click', '.gswitch-status-refresh', function () { gswitch.pollStatus(); });
      root.on('click', '.gswitch-op', function () { gswitch.control($(this).attr('data-op')); });
      // 日志
      root.on('change', '.gswitch-logs-site', function () {
        gswitch.logs.site = $(this).val() || null;
        gswitch.loadLogs(true);
      });
      root.on('change', '.gswitch-logs-kind', function () {
        gswitch.logs.kind = $(this).val();
        gswitch.loadLogs(true);
      });
      root.on('change', '.gswitch-logs-lines', function () {
        gswitch.logs.lines = parseInt($(this).val(), 10) || 200;
        gswitch.loadLogs(true);
      });
      root.on('click', '.gswitch-logs-refresh', function () { gswitch.loadLogs(true); });
      root.on('change', '.gswitch-rot-site', function () { gswitch.loadRotation(); });
      root.on('click', '.gswitch-hist-span', function () {
        gswitch.historySpan = Number($(this).attr('data-span'));
        gswitch.loadHistory(true);
      });
      root.on('click', '.gswitch-rot-save', function () { gswitch.saveRotation(); });
      root.on('change', '.gswitch-logs-follow', function () {
        gswitch.logs.follow = $(this).prop('checked');
        if (gswitch.logs.follow) gswitch.loadLogs(false); else gswitch.clear('logs');
      });
    },

    /* The panel closes the dialog by removing it: tear everything down when that happens. */
    watchClose: function () {
      if (!window.MutationObserver) return; // the timers check alive() on every tick anyway
      var observer = new window.MutationObserver(function () {
        if (gswitch.root && !gswitch.alive()) gswitch.teardown();
      });
      observer.observe(document.body, {childList: true, subtree: true});
      gswitch.observer = observer;
      if (!gswitch.visibilityBound) {
        gswitch.visibilityBound = true;
        $(document).on('visibilitychange.gswitch', function () {
          if (!gswitch.root || document.hidden) return;
          if (gswitch.currentTab === 'status') gswitch.pollStatus();
          if (gswitch.currentTab === 'logs' && gswitch.logs.follow) gswitch.loadLogs(false);
        });
      }
    },

    alive: function () {
      return !!(gswitch.root && gswitch.root[0] && $.contains(document.documentElement, gswitch.root[0]));
    },

    teardown: function () {
      var name;
      for (name in gswitch.timers) {
        if (gswitch.timers.hasOwnProperty(name)) window.clearTimeout(gswitch.timers[name]);
      }
      gswitch.timers = {};
      var xhrs = gswitch.xhrs;
      gswitch.xhrs = [];
      for (var i = 0; i < xhrs.length; i++) {
        try { xhrs[i].abort(); } catch (e) { /* already done */ }
      }
      gswitch.disposeCharts();
      for (name in gswitch.layers) {
        if (gswitch.layers.hasOwnProperty(name)) layer.close(gswitch.layers[name]);
      }
      gswitch.layers = {};
      if (gswitch.observer) gswitch.observer.disconnect();
      gswitch.observer = null;
      gswitch.task = null;
      gswitch.status = {site: gswitch.status.site, gen: gswitch.status.gen + 1, inflight: false, data: null, hist: null};
      gswitch.logs.inflight = false;
      gswitch.logs.follow = false;
      gswitch.root = null;
    },

    /* One named timer at a time; it runs only while the dialog is open. */
    later: function (name, fn, ms) {
      gswitch.clear(name);
      gswitch.timers[name] = window.setTimeout(function () {
        delete gswitch.timers[name];
        if (!gswitch.alive()) { gswitch.teardown(); return; }
        fn();
      }, ms);
    },

    clear: function (name) {
      if (gswitch.timers[name]) window.clearTimeout(gswitch.timers[name]);
      delete gswitch.timers[name];
    },

    /* For tests and debugging: how many timers and requests are live. */
    activity: function () {
      var n = 0;
      for (var name in gswitch.timers) if (gswitch.timers.hasOwnProperty(name)) n++;
      return {timers: n, requests: gswitch.xhrs.length, charts: gswitch.charts.length};
    },

    translate: function () {
      var root = gswitch.root;
      root.attr('lang', gswitch.lang === 'zh' ? 'zh-CN' : 'en');
      root.find('[data-i18n]').each(function () {
        $(this).text(gswitch.t($(this).attr('data-i18n')));
      });
      // the dialog's title, set by the panel from the store's entry
      var title = root.closest('.layui-layer').find('.layui-layer-title');
      if (title.length) {
        var img = title.find('img').first().detach();
        title.text(gswitch.t('plugin_title')).prepend(img);
      }
    },

    showTab: function (tab) {
      var root = gswitch.root;
      if (!root) return;
      gswitch.currentTab = tab;
      root.find('.gswitch-menu p').removeClass('bgw')
        .filter('[data-tab="' + tab + '"]').addClass('bgw');
      root.find('.gswitch-pane').hide().filter('[data-pane="' + tab + '"]').show();
      if (tab !== 'status') {
        gswitch.clear('status');
        gswitch.disposeCharts();
      }
      if (tab !== 'logs') gswitch.clear('logs');
      if (tab === 'status') {
        gswitch.fillSiteSelects();
        gswitch.resetStatus();
        gswitch.pollStatus();
      }
      if (tab === 'logs') {
        gswitch.fillSiteSelects();
        gswitch.loadLogs(true);
      }
      if (tab === 'settings') {
        gswitch.fillSiteSelects();
        gswitch.loadRotation();
      }
    },

    /* 设置 → 日志切割: the four lines of the site's gunicorn_conf.py the master re-reads. */
    loadRotation: function () {
      var root = gswitch.root;
      var site = root.find('.gswitch-rot-site').val();
      root.find('.gswitch-rot-msg').text('');
      if (!site) return;
      gswitch.call('get_log_rotation', {site: site}, function (data) {
        root.find('.gswitch-rot').each(function () { $(this).val(data[$(this).attr('name')]); });
      }, {fail: function (msg) { root.find('.gswitch-rot-msg').text(msg); }});
    },

    saveRotation: function () {
      var root = gswitch.root;
      var args = {site: root.find('.gswitch-rot-site').val()};
      root.find('.gswitch-rot').each(function () { args[$(this).attr('name')] = $(this).val(); });
      gswitch.call('set_log_rotation', args, function (data) {
        root.find('.gswitch-rot-msg').text(gswitch.t('rot_saved', {conf: data.conf}));
      }, {fail: function (msg) { root.find('.gswitch-rot-msg').text(msg); }});
    },

    /*
     * POST /plugin?action=a&name=gunicorn_switch&s=<method>. The panel's $.ajaxSetup adds the
     * x-http-token header. ok(data, msg) runs on status true; every failure is shown with
     * layer.msg unless opts.quiet (and fail(msg), if given, runs so that the caller can clean
     * up). The loading message is closed on every path.
     */
    call: function (method, args, ok, opts) {
      opts = opts || {};
      var loading = opts.loading === false ? null :
        layer.msg(opts.loading || gswitch.t('loading'), {icon: 16, time: 0, shade: 0.3});
      var xhr;
      function done() {
        if (loading !== null) layer.close(loading);
        loading = null;
        var i = $.inArray(xhr, gswitch.xhrs);
        if (i >= 0) gswitch.xhrs.splice(i, 1);
      }
      function failed(msg) {
        msg = msg || gswitch.t('err_unknown');
        if (opts.prefix) msg = gswitch.t(opts.prefix, {msg: msg});
        if (!opts.quiet) layer.msg(esc(msg), {icon: 2, time: 5000, shadeClose: true});
        if (opts.fail) opts.fail(msg);
      }
      var data = $.extend({}, args || {});
      var lang = langOverride();
      if (lang) data.lang = lang; // the backend's messages in the page's language
      xhr = $.ajax({
        url: '/plugin?action=a&name=' + PLUGIN + '&s=' + method,
        type: 'POST',
        data: data,
        dataType: 'json',
        timeout: opts.timeout || 60000,
        success: function (res) {
          done();
          if (!res || typeof res !== 'object') return failed(gswitch.t('err_parse'));
          if (res.status !== true) return failed(res.msg);
          ok(res.data, res.msg);
        },
        error: function (xhr2, textStatus) {
          done();
          if (textStatus === 'abort') return; // the dialog was closed
          if (textStatus === 'timeout') return failed(gswitch.t('err_timeout'));
          if (textStatus === 'parsererror') return failed(gswitch.t('err_parse'));
          if (!xhr2.status) return failed(gswitch.t('err_network'));
          failed(gswitch.t('err_http', {code: xhr2.status}));
        }
      });
      gswitch.xhrs.push(xhr);
      return xhr;
    },

    // -- 站点 ----------------------------------------------------------------------------

    loadSites: function (after) {
      var root = gswitch.root;
      if (!root) return;
      var body = root.find('.gswitch-sites tbody');
      if (!gswitch.sites.length) {
        body.html('<tr><td colspan="5" class="gswitch-empty">' + esc(gswitch.t('loading')) + '</td></tr>');
      }
      gswitch.call('get_sites', {}, function (data) {
        gswitch.sites = $.isArray(data) ? data : [];
        gswitch.renderSites();
        gswitch.fillSiteSelects();
        gswitch.resumeTasks();
        if (after) after();
      }, {
        timeout: 60000,
        fail: function (msg) {
          if (!gswitch.root) return;
          gswitch.sites = [];
          gswitch.root.find('.gswitch-count').text('');
          body.html('<tr><td colspan="5" class="gswitch-empty gswitch-error">' + esc(msg) + '</td></tr>');
        }
      });
    },

    serverLabel: function (server) {
      var known = {uwsgi: 1, gunicorn: 1, stopped: 1, unknown: 1};
      var kind = known[server] ? server : 'unknown';
      return '<span class="gswitch-label gswitch-label-' + kind + '">' +
        esc(gswitch.t('server_' + kind)) + '</span>';
    },

    managerText: function (manager) {
      if (!manager) return '-';
      var key = 'mgr_' + manager;
      return I18N.zh[key] ? gswitch.t(key) : String(manager);
    },

    site: function (name) {
      for (var i = 0; i < gswitch.sites.length; i++) {
        if (gswitch.sites[i] && gswitch.sites[i].site === name) return gswitch.sites[i];
      }
      return null;
    },

    renderSites: function () {
      var root = gswitch.root;
      if (!root) return;
      var body = root.find('.gswitch-sites tbody');
      var sites = gswitch.sites;
      root.find('.gswitch-count').text(gswitch.t('count', {n: sites.length}));
      if (!sites.length) {
        body.html('<tr><td colspan="5" class="gswitch-empty">' + esc(gswitch.t('no_sites')) + '</td></tr>');
        return;
      }
      var rows = [];
      for (var i = 0; i < sites.length; i++) {
        var s = sites[i] || {};
        var acts = [];
        var saved = gswitch.savedTask(s.site);
        if (saved) {
          acts.push('<a class="btlink gswitch-act-progress" href="javascript:;">' + esc(gswitch.t('act_progress')) + '</a>');
        } else if (s.server === 'uwsgi') {
          acts.push('<a class="btlink gswitch-act-switch" href="javascript:;">' + esc(gswitch.t('act_switch')) + '</a>');
        }
        if (s.server === 'gunicorn') {
          acts.push('<a class="btlink gswitch-act-status" href="javascript:;">' + esc(gswitch.t('act_status')) + '</a>');
          if (s.managed_by_plugin) {
            acts.push('<a class="btlink gswitch-act-logs" href="javascript:;">' + esc(gswitch.t('act_logs')) + '</a>');
            if (!saved) {
              acts.push('<a class="btlink gswitch-act-rollback" href="javascript:;">' + esc(gswitch.t('act_rollback')) + '</a>');
            }
          }
        }
        var manager = esc(gswitch.managerText(s.manager));
        if (s.managed_by_plugin) {
          manager += ' <span class="gswitch-mark" title="' + esc(gswitch.t('managed')) + '">★</span>';
        }
        var bind = s.upstream || (s.listen && s.listen.length ? s.listen.join(', ') : '') || '-';
        rows.push('<tr data-site="' + esc(s.site) + '" data-server="' + esc(s.server) + '">' +
          '<td class="gswitch-site-cell"><div class="gswitch-site">' + esc(s.site) + '</div>' +
          '<div class="gswitch-path c9" title="' + esc(s.project_path) + '">' + esc(s.project_path || '') + '</div></td>' +
          '<td class="gswitch-server">' + gswitch.serverLabel(s.server) +
          (saved ? ' <span class="gswitch-spin" title="' + esc(gswitch.t('task_running_mark')) + '"></span>' : '') + '</td>' +
          '<td class="gswitch-manager">' + manager + '</td>' +
          '<td class="gswitch-upstream" title="' + esc(bind) + '">' + esc(bind) + '</td>' +
          '<td class="text-right gswitch-action">' + acts.join(' <span class="gswitch-sep">|</span> ') + '</td>' +
          '</tr>');
      }
      body.html(rows.join(''));
    },

    // -- the plan ------------------------------------------------------------------------

    /* Ask the backend for the plan (nothing changes) and show it with its options. */
    showPlan: function (site) {
      gswitch.call('plan', {site: site}, function (data) {
        if (!gswitch.root) return;
        data = data || {};
        var state = {site: site, opts: {}, data: data, seq: 0, busy: false, valid: true};
        gswitch.plan = state;
        var index = layer.open({
          type: 1,
          title: esc(gswitch.t('plan_title', {site: site})),
          area: ['680px', '640px'],
          closeBtn: 2,
          shadeClose: false,
          skin: 'gswitch-plan-layer',
          content: '<div class="gswitch-sub gswitch-plan pd15">' + gswitch.optionsHtml(data) +
            '<div class="gswitch-plan-msg"></div><div class="gswitch-plan-body">' +
            gswitch.planHtml(data) + '</div></div>',
          btn: [gswitch.t('plan_start'), gswitch.t('cancel')],
          success: function (layero) {
            state.layero = layero;
            layero.on('change', '.gswitch-opt', function () {
              var el = $(this);
              var name = el.attr('name');
              // a blur after a change fires `change` again with the same value: not a new plan
              if (state.opts[name] === el.val()) return;
              state.opts[name] = el.val();
              gswitch.replan(state);
            });
          },
          yes: function (idx) {
            if (state.busy) {
              // confirmed while the plan is being made again: start when it is ready
              state.startWhenReady = idx;
              return layer.msg(gswitch.t('plan_busy'), {icon: 0});
            }
            if (!state.valid) return layer.msg(gswitch.t('plan_invalid'), {icon: 2});
            gswitch.startSwitch(site, state.opts, idx, state.data.blockers);
          },
          end: function () {
            delete gswitch.layers.plan;
            if (gswitch.plan === state) gswitch.plan = null;
          }
        });
        gswitch.layers.plan = index;
      }, {loading: gswitch.t('plan_loading'), timeout: 90000, prefix: 'plan_failed'});
    },

    replan: function (state) {
      state.seq += 1;
      var seq = state.seq;
      state.busy = true;
      var layero = state.layero;
      var args = $.extend({site: state.site}, state.opts);
      layero.find('.layui-layer-btn0').addClass('gswitch-disabled');
      layero.find('.gswitch-plan-msg').html('<div class="gswitch-note"><span class="gswitch-spin"></span> ' +
        esc(gswitch.t('plan_replanning')) + '</div>');
      gswitch.call('plan', args, function (data) {
        if (seq !== state.seq) return;
        state.busy = false;
        state.valid = true;
        state.data = data || {};
        layero.find('.layui-layer-btn0').removeClass('gswitch-disabled');
        layero.find('.gswitch-plan-msg').empty();
        layero.find('.gswitch-plan-body').html(gswitch.planHtml(state.data));
        if (state.startWhenReady !== undefined) {
          var idx = state.startWhenReady;
          delete state.startWhenReady;
          gswitch.startSwitch(state.site, state.opts, idx, state.data.blockers);
        }
      }, {
        loading: false, quiet: true, timeout: 90000, prefix: 'plan_failed',
        fail: function (msg) {
          if (seq !== state.seq) return;
          state.busy = false;
          state.valid = false;
          delete state.startWhenReady;
          layero.find('.gswitch-plan-msg').html('<div class="gswitch-note gswitch-note-error">' + esc(msg) + '</div>');
        }
      });
    },

    optionsHtml: function (data) {
      var s = data.settings || {};
      var bindKind = String(data.bind || '').indexOf('unix:') === 0 ? 'unix' : 'tcp';
      function input(name, value, min, max) {
        return '<input class="bt-input-text gswitch-opt" type="number" name="' + name + '" min="' + min +
          '" max="' + max + '" value="' + esc(value === undefined || value === null ? '' : value) + '">';
      }
      function select(name, values, labels, current) {
        var html = '<select class="bt-input-text gswitch-opt" name="' + name + '">';
        for (var i = 0; i < values.length; i++) {
          html += '<option value="' + esc(values[i]) + '"' + (values[i] === current ? ' selected' : '') + '>' +
            esc(labels ? labels[i] : values[i]) + '</option>';
        }
        return html + '</select>';
      }
      var classes = WORKER_CLASSES.slice(0);
      if (s.worker_class && $.inArray(s.worker_class, classes) < 0) classes.unshift(s.worker_class);
      var managers = ['supervisor', 'daemon'];
      if (data.uwsgi_manager === 'panel_project') managers.unshift('panel_project');
      if (data.manager && $.inArray(data.manager, managers) < 0) managers.unshift(data.manager);
      var mgrLabels = $.map(managers, function (m) { return gswitch.managerText(m); });
      function cell(label, control) {
        return '<div class="gswitch-opt-cell"><span class="gswitch-opt-name">' + esc(gswitch.t(label)) + '</span>' + control + '</div>';
      }
      return '<h4>' + esc(gswitch.t('plan_options')) + '</h4><div class="gswitch-opts mb15">' +
        cell('opt_workers', input('workers', s.workers, 1, 256)) +
        cell('opt_threads', input('threads', s.threads, 1, 256)) +
        cell('opt_timeout', input('timeout', s.timeout, 1, 86400)) +
        cell('opt_worker_class', select('worker_class', classes, null, s.worker_class)) +
        cell('opt_bind', select('bind', ['tcp', 'unix'], [gswitch.t('opt_bind_tcp'), gswitch.t('opt_bind_unix')], bindKind)) +
        cell('opt_manager', select('manager', managers, mgrLabels, data.manager)) +
        cell('opt_access_log', select('access_log', ['on', 'off'],
          [gswitch.t('opt_access_on'), gswitch.t('opt_access_off')], s.accesslog ? 'on' : 'off')) +
        '</div>';
    },

    itemText: function (item) {
      if (item === null || item === undefined) return '';
      if (typeof item !== 'object') return String(item);
      var head = gswitch.lang === 'en' ? (item.title_en || item.title) : item.title;
      head = head || item.name || item.option || item.origin || item.key || '';
      var tail = item.msg || item.message || item.detail || item.description || '';
      if (head || tail) return head && tail ? head + ': ' + tail : String(head || tail);
      return JSON.stringify(item);
    },

    // What uWSGI ran besides the app (reload files, crons, daemons) and where the switch puts it.
    carriedHtml: function (items) {
      if (!items.length) return '';
      var html = '<h4>' + esc(gswitch.t('plan_carried')) + '</h4><div class="divtable mb15">' +
        '<table class="table gswitch-carried"><tbody>';
      for (var i = 0; i < items.length; i++) {
        var c = items[i];
        html += '<tr><td>' + esc(gswitch.t('carried_' + c.kind)) + '</td><td class="gswitch-mono">' +
          esc(c.option + ' = ' + c.value) + '</td><td>' + esc(gswitch.t('carried_where')) + ' ' +
          esc(c.where) + '<br><span class="c9">' + esc(c.detail || '') + '</span></td></tr>';
      }
      return html + '</tbody></table></div>';
    },

    listHtml: function (items, ordered) {
      if (!items || !items.length) return '<p class="c9">' + esc(gswitch.t('plan_none')) + '</p>';
      var tag = ordered ? 'ol' : 'ul';
      var html = '<' + tag + ' class="gswitch-list">';
      for (var i = 0; i < items.length; i++) html += '<li>' + esc(gswitch.itemText(items[i])) + '</li>';
      return html + '</' + tag + '>';
    },

    diffHtml: function (diff) {
      if (diff && typeof diff === 'object') { // a {path: diff} map, in case the backend sends one
        var parts = [];
        for (var k in diff) if (diff.hasOwnProperty(k)) parts.push(String(diff[k]));
        diff = parts.join('\n');
      }
      if (!diff) return '<p class="c9">' + esc(gswitch.t('plan_none')) + '</p>';
      var lines = String(diff).replace(/\n$/, '').split('\n');
      var out = [];
      for (var i = 0; i < lines.length; i++) {
        var line = lines[i];
        var cls = 'gswitch-diff-ctx';
        if (/^(\+\+\+|---)/.test(line)) cls = 'gswitch-diff-file';
        else if (line.charAt(0) === '+') cls = 'gswitch-diff-add';
        else if (line.charAt(0) === '-') cls = 'gswitch-diff-del';
        else if (line.indexOf('@@') === 0) cls = 'gswitch-diff-hunk';
        out.push('<span class="' + cls + '">' + esc(line) + '</span>');
      }
      return '<pre class="gswitch-pre gswitch-diff">' + out.join('\n') + '</pre>';
    },

    planHtml: function (data) {
      var html = '';
      var summary = [
        ['sum_bind', data.bind],
        ['sum_manager', gswitch.managerText(data.manager)],
        ['sum_version', (data.gunicorn_version || '-') + (data.gunicorn_installed ? gswitch.t('sum_installed') : '')],
        ['sum_conf_path', data.gunicorn_conf_path]
      ];
      html += '<h4>' + esc(gswitch.t('plan_summary')) + '</h4><div class="divtable mb15"><table class="table gswitch-kv">';
      for (var i = 0; i < summary.length; i++) {
        html += '<tr><td class="gswitch-key">' + esc(gswitch.t(summary[i][0])) + '</td><td class="gswitch-mono">' +
          esc(summary[i][1] || '-') + '</td></tr>';
      }
      html += '</table></div>';
      var warnings = data.warnings || [];
      html += '<h4>' + esc(gswitch.t('plan_warnings')) + '</h4>';
      html += warnings.length ? '<div class="gswitch-warnings">' + gswitch.listHtml(warnings) + '</div>' :
        '<p class="c9">' + esc(gswitch.t('plan_none')) + '</p>';
      html += gswitch.carriedHtml(data.carried || []);
      html += '<h4>' + esc(gswitch.t('plan_steps')) + '</h4>' + gswitch.listHtml(data.steps, true);
      html += '<h4>' + esc(gswitch.t('plan_conf')) + '</h4>';
      html += data.gunicorn_conf ? '<pre class="gswitch-pre gswitch-conf">' + esc(data.gunicorn_conf) + '</pre>' :
        '<p class="c9">' + esc(gswitch.t('plan_none')) + '</p>';
      html += '<h4>' + esc(gswitch.t('plan_diff')) + '</h4>' + gswitch.diffHtml(data.nginx_diff);
      return html;
    },

    // -- tasks: switch and rollback --------------------------------------------------------

    savedTask: function (site) {
      var raw = stored(TASK_KEY + site);
      if (!raw) return null;
      try {
        var v = JSON.parse(raw);
        return v && v.id ? v : null;
      } catch (e) { return null; }
    },

    saveTask: function (site, id, kind) {
      store(TASK_KEY + site, id ? JSON.stringify({id: id, kind: kind}) : null);
    },

    startSwitch: function (site, opts, planIndex, blockers) {
      // the plan the user is looking at, applied as shown (the backend refuses it if the site
      // changed since)
      var shown = gswitch.plan && gswitch.plan.site === site ? gswitch.plan.data : {};
      var args = $.extend({site: site}, opts, shown.plan_id ? {plan_id: shown.plan_id} : {plan_and_apply: '1'});
      if (blockers && blockers.length && !opts.confirm_blockers) {
        // what would break the site under Gunicorn (e.g. `import uwsgi` when a module loads):
        // the user confirms having read it, then the same call goes again
        var text = $.map(blockers, function (b) { return esc(b.message); }).join('<br><br>');
        var ask = layer.confirm(text, {title: esc(gswitch.t('blockers_title')), icon: 0, closeBtn: 2,
                                       area: ['560px', 'auto']}, function () {
          layer.close(ask);
          gswitch.startSwitch(site, $.extend({confirm_blockers: '1'}, opts), planIndex, blockers);
        });
        return;
      }
      gswitch.call('switch', args, function (data) {
        if (!data || !data.task_id) return layer.msg(esc(gswitch.t('err_parse')), {icon: 2});
        gswitch.saveTask(site, data.task_id, 'switch');
        layer.close(planIndex);
        gswitch.renderSites();
        gswitch.openTask(site, data.task_id, 'switch');
      }, {loading: gswitch.t('switch_starting'), timeout: 90000});
    },

    confirmRollback: function (site) {
      var index = layer.confirm(esc(gswitch.t('rollback_confirm', {site: site})), {
        title: esc(gswitch.t('rollback_confirm_title')), icon: 3, closeBtn: 2,
        btn: [gswitch.t('act_rollback'), gswitch.t('cancel')],
        end: function () { delete gswitch.layers.confirm; }
      }, function (idx) {
        layer.close(idx);
        gswitch.call('rollback', {site: site}, function (data) {
          if (!data || !data.task_id) return layer.msg(esc(gswitch.t('err_parse')), {icon: 2});
          gswitch.saveTask(site, data.task_id, 'rollback');
          gswitch.renderSites();
          gswitch.openTask(site, data.task_id, 'rollback');
        }, {loading: gswitch.t('rollback_starting'), timeout: 90000});
      });
      gswitch.layers.confirm = index;
    },

    /* Tasks started earlier (this dialog or a previous one): show the newest one again. */
    resumeTasks: function () {
      if (gswitch.task) return;
      for (var i = 0; i < gswitch.sites.length; i++) {
        var s = gswitch.sites[i];
        var saved = s && gswitch.savedTask(s.site);
        if (saved) {
          gswitch.openTask(s.site, saved.id, saved.kind);
          return;
        }
      }
    },

    openTask: function (site, id, kind) {
      if (gswitch.task) gswitch.closeTask();
      var task = {site: site, id: id, kind: kind || 'switch', data: null, pick: null, failures: 0, over: false};
      gswitch.task = task;
      var title = gswitch.t(task.kind === 'rollback' ? 'task_rollback_title' : 'task_switch_title', {site: site});
      task.index = layer.open({
        type: 1,
        title: esc(title),
        area: ['640px', '560px'],
        closeBtn: 2,
        shadeClose: false,
        skin: 'gswitch-task-layer',
        content: '<div class="gswitch-sub gswitch-task pd15" data-task="' + esc(id) + '">' +
          '<div class="gswitch-result gswitch-note"><span class="gswitch-spin"></span> ' + esc(gswitch.t('loading')) + '</div>' +
          '<ol class="gswitch-steps"></ol>' +
          '<h4 class="gswitch-log-title"></h4><pre class="gswitch-pre gswitch-task-log"></pre></div>',
        btn: [gswitch.t('close_bg')],
        success: function (layero) {
          task.layero = layero;
          layero.on('click', '.gswitch-step', function () {
            task.pick = $(this).attr('data-step');
            gswitch.renderTask(task);
          });
          layero.on('click', '.gswitch-task-retry', function () {
            task.failures = 0;
            gswitch.pollTask(task);
          });
          layero.on('click', '.gswitch-task-status', function () {
            var s = task.site;
            layer.close(task.index);
            gswitch.status.site = s;
            gswitch.showTab('status');
          });
        },
        yes: function (idx) { layer.close(idx); },
        end: function () {
          if (gswitch.task === task) gswitch.task = null;
          gswitch.clear('task');
          delete gswitch.layers.task;
          if (task.over) gswitch.saveTask(task.site, null);
          if (gswitch.root) gswitch.renderSites();
        }
      });
      gswitch.layers.task = task.index;
      gswitch.pollTask(task);
    },

    closeTask: function () {
      var task = gswitch.task;
      gswitch.task = null;
      gswitch.clear('task');
      if (task) layer.close(task.index);
    },

    pollTask: function (task) {
      gswitch.clear('task');
      gswitch.call('get_task', {task_id: task.id}, function (data) {
        if (gswitch.task !== task) return;
        task.failures = 0;
        task.error = null;
        task.data = data || {};
        var st = task.data.state;
        if (st === 'pending' || st === 'running') {
          gswitch.later('task', function () { gswitch.pollTask(task); }, TASK_POLL_MS);
        } else {
          gswitch.finishTask(task);
        }
        gswitch.renderTask(task);
      }, {
        loading: false, quiet: true, timeout: 15000,
        fail: function (msg) {
          if (gswitch.task !== task) return;
          task.failures += 1;
          task.error = msg;
          if (task.data === null && task.failures >= 1 && /任务|task/i.test(msg || '')) {
            // the task is unknown (cleaned up, another server): forget it
            gswitch.saveTask(task.site, null);
            task.over = true;
          } else if (task.failures < 5) {
            gswitch.later('task', function () { gswitch.pollTask(task); }, TASK_POLL_MS * 2);
          }
          gswitch.renderTask(task);
        }
      });
    },

    finishTask: function (task) {
      if (task.over) return;
      task.over = true;
      gswitch.saveTask(task.site, null);
      if (task.layero) task.layero.find('.layui-layer-btn0').text(gswitch.t('close'));
      gswitch.loadSites();
    },

    stepTitle: function (step) {
      return (gswitch.lang === 'en' ? step.title_en || step.title : step.title || step.title_en) || step.name;
    },

    renderTask: function (task) {
      var layero = task.layero;
      if (!layero) return;
      var data = task.data || {};
      var steps = data.steps || [];
      var html = [];
      var shown = null;
      var running = null;
      var failed = null;
      var lastLog = null;
      for (var i = 0; i < steps.length; i++) {
        var s = steps[i];
        if (s.state === 'running') running = s;
        if (s.state === 'failed') failed = s;
        if (s.log) lastLog = s;
        if (task.pick && s.name === task.pick) shown = s;
        var took = '';
        if (s.started && s.finished && s.finished >= s.started) took = (s.finished - s.started).toFixed(1) + 's';
        else if (s.started && s.state === 'running') took = clock(s.started);
        html.push('<li class="gswitch-step gswitch-step-' + esc(s.state) + '" data-step="' + esc(s.name) + '">' +
          '<span class="gswitch-step-icon"></span>' +
          '<span class="gswitch-step-title">' + esc(gswitch.stepTitle(s)) + '</span>' +
          '<span class="gswitch-step-state">' + esc(gswitch.t('step_' + s.state)) + '</span>' +
          '<span class="gswitch-step-time c9">' + esc(took) + '</span></li>');
      }
      layero.find('.gswitch-steps').html(html.join(''));
      shown = shown || running || failed || lastLog;
      if (shown) layero.find('.gswitch-step[data-step="' + shown.name + '"]').addClass('gswitch-step-shown');
      var pre = layero.find('.gswitch-task-log');
      layero.find('.gswitch-log-title').text(shown ? gswitch.t('task_log', {step: gswitch.stepTitle(shown)}) : '');
      var text = shown ? (shown.log || gswitch.t('task_log_empty')) : '';
      if (pre.data('text') !== text || pre.data('step') !== (shown && shown.name)) {
        var el = pre[0];
        var atEnd = el.scrollHeight - el.scrollTop - el.clientHeight < 24 || pre.data('step') !== (shown && shown.name);
        pre.text(text).data('text', text).data('step', shown && shown.name);
        pre.toggle(!!shown);
        if (atEnd) el.scrollTop = el.scrollHeight;
      }
      // the state line
      var st = data.state;
      var msg;
      var cls = 'gswitch-note';
      var extra = '';
      if (st === 'succeeded') {
        cls += ' gswitch-note-ok';
        msg = gswitch.t(task.kind === 'rollback' ? 'task_ok_rollback' : 'task_ok_switch', {site: task.site});
        if (task.kind !== 'rollback') {
          extra = ' <a class="btlink gswitch-task-status" href="javascript:;">' + esc(gswitch.t('task_view_status')) + '</a>';
        }
      } else if (st === 'rolled_back') {
        cls += ' gswitch-note-warn';
        msg = gswitch.t('task_rolled_back', {error: data.error || '-'});
      } else if (st === 'failed') {
        cls += ' gswitch-note-error';
        if (data.committed) {
          var left = [];
          for (var j = 0; j < steps.length; j++) {
            if (steps[j].state !== 'done' && steps[j].state !== 'skipped') left.push(gswitch.stepTitle(steps[j]));
          }
          msg = gswitch.t('task_failed_committed', {error: data.error || '-', left: left.join(', ') || '-'});
        } else {
          msg = gswitch.t('task_failed', {error: data.error || '-'});
        }
      } else if (task.error) {
        cls += ' gswitch-note-error';
        msg = gswitch.t('task_poll_failed', {msg: task.error});
        if (!task.over) extra = ' <a class="btlink gswitch-task-retry" href="javascript:;">' + esc(gswitch.t('task_retry')) + '</a>';
      } else if (st === 'pending') {
        msg = gswitch.t('task_pending');
        extra = '';
        cls += ' gswitch-note-run';
      } else if (data.serving_since) {
        // past the commit point nginx sends the site to the new server: the user sees that
        // moment, while the old server's exit finishes in the background
        cls += ' gswitch-note-run';
        msg = gswitch.t(task.kind === 'rollback' ? 'task_serving_uwsgi' : 'task_serving_gunicorn',
          {site: task.site, secs: (data.serving_since - data.created).toFixed(1)});
      } else {
        cls += ' gswitch-note-run';
        msg = gswitch.t('task_running');
      }
      var spin = (st === 'pending' || st === 'running' || !st) && !task.error ? '<span class="gswitch-spin"></span> ' : '';
      layero.find('.gswitch-result').attr('class', 'gswitch-result ' + cls)
        .attr('data-state', st || '').html(spin + esc(msg) + extra);
    },

    // -- 状态 ----------------------------------------------------------------------------

    fillSiteSelects: function () {
      var root = gswitch.root;
      if (!root) return;
      var gun = [];
      var managed = [];
      for (var i = 0; i < gswitch.sites.length; i++) {
        var s = gswitch.sites[i];
        if (!s) continue;
        if (s.server === 'gunicorn' || s.managed_by_plugin) gun.push(s.site);
        if (s.managed_by_plugin) managed.push(s.site);
      }
      function fill(sel, names, current) {
        var html = '';
        for (var k = 0; k < names.length; k++) {
          html += '<option value="' + esc(names[k]) + '">' + esc(names[k]) + '</option>';
        }
        sel.html(html);
        var pick = $.inArray(current, names) >= 0 ? current : (names[0] || null);
        sel.val(pick || '');
        return pick;
      }
      gswitch.status.site = fill(root.find('.gswitch-status-site'), gun, gswitch.status.site);
      root.find('.gswitch-status-empty').toggle(!gun.length).text(gswitch.t('status_none'));
      root.find('.gswitch-status-main').toggle(!!gun.length);
      gswitch.logs.site = fill(root.find('.gswitch-logs-site'), managed, gswitch.logs.site);
      root.find('.gswitch-logs-empty').toggle(!managed.length).text(gswitch.t('logs_none'));
      root.find('.gswitch-logs-main').toggle(!!managed.length);
      fill(root.find('.gswitch-rot-site'), managed, root.find('.gswitch-rot-site').val());
      root.find('.gswitch-rotation-empty').toggle(!managed.length).text(gswitch.t('logs_none'));
      root.find('.gswitch-rotation-main').toggle(!!managed.length);
    },

    resetStatus: function () {
      gswitch.status.gen += 1;
      gswitch.status.inflight = false;
      gswitch.status.data = null;
      gswitch.status.hist = {site: gswitch.status.site, series: {}};
      gswitch.disposeCharts();
      if (gswitch.root) {
        gswitch.root.find('.gswitch-status-body').empty();
        gswitch.root.find('.gswitch-charts').empty();
      }
    },

    statusVisible: function () {
      return gswitch.alive() && gswitch.currentTab === 'status' && !document.hidden;
    },

    pollStatus: function () {
      gswitch.clear('status');
      var st = gswitch.status;
      if (!gswitch.statusVisible() || !st.site || st.inflight) return;
      var gen = st.gen;
      st.inflight = true;
      gswitch.call('get_status', {site: st.site}, function (data) {
        if (gen !== st.gen) return;
        st.inflight = false;
        st.data = data || {};
        gswitch.record(st.data);
        gswitch.renderStatus(st.data, null);
        if (gswitch.statusVisible()) gswitch.later('status', gswitch.pollStatus, STATUS_POLL_MS);
      }, {
        loading: false, quiet: true, timeout: 20000,
        fail: function (msg) {
          if (gen !== st.gen) return;
          st.inflight = false;
          gswitch.renderStatus(st.data, msg);
          if (gswitch.statusVisible()) gswitch.later('status', gswitch.pollStatus, STATUS_POLL_MS * 2);
        }
      });
    },

    /* Keep the last minutes of every worker's req/s, CPU and RSS for the charts. */
    record: function (data) {
      var hist = gswitch.status.hist;
      if (!hist) return;
      var now = new Date().getTime();
      var workers = data.workers || [];
      for (var i = 0; i < workers.length; i++) {
        var w = workers[i];
        var key = String(w.pid);
        var s = hist.series[key] || (hist.series[key] = {rps: [], cpu: [], rss: []});
        s.rps.push([now, w.rps === null || w.rps === undefined ? null : w.rps]);
        s.cpu.push([now, w.cpu === null || w.cpu === undefined ? null : w.cpu]);
        s.rss.push([now, w.rss ? Math.round(w.rss / 104857.6) / 10 : null]);
      }
      for (var pid in hist.series) {
        if (!hist.series.hasOwnProperty(pid)) continue;
        var series = hist.series[pid];
        var keep = false;
        for (var m in series) {
          if (!series.hasOwnProperty(m)) continue;
          while (series[m].length && now - series[m][0][0] > HISTORY_MS) series[m].shift();
          if (series[m].length) keep = true;
        }
        if (!keep) delete hist.series[pid];
      }
    },

    renderStatus: function (data, error) {
      var root = gswitch.root;
      if (!root) return;
      var body = root.find('.gswitch-status-body');
      var site = gswitch.status.site;
      var html = '';
      if (error) html += '<div class="gswitch-note gswitch-note-error gswitch-status-error">' + esc(error) + '</div>';
      if (!data) {
        body.html(html || '<div class="gswitch-empty">' + esc(gswitch.t('loading')) + '</div>');
        return;
      }
      var m = data.master;
      var managed = !!data.managed;
      var ops = '<div class="gswitch-ops mb15">';
      if (data.running) {
        ops += gswitch.opButton('reload', 'btn_reload', 'btn-success', false);
        ops += gswitch.opButton('add_worker', 'btn_add', 'btn-default', !managed);
        ops += gswitch.opButton('remove_worker', 'btn_remove', 'btn-default', !managed || (data.workers || []).length <= 1);
        ops += gswitch.opButton('restart', 'btn_restart', 'btn-danger', !managed);
      } else if (managed) {
        ops += gswitch.opButton('start', 'btn_start', 'btn-success', false);
      }
      // a switched site that nothing starts at boot (issue 14 §3): 开机自启, enable
      if (managed && data.boot && data.boot.persistent === false) {
        ops += gswitch.opButton('enable_boot', 'btn_enable_boot', 'btn-default', false);
      }
      ops += '<span class="gswitch-updated c9">' + esc(gswitch.t('updated', {time: clock()})) + '</span></div>';
      html += ops;
      if (!managed && data.running) html += '<p class="c9">' + esc(gswitch.t('unmanaged_note')) + '</p>';
      var hints = data.hints || [];
      if (hints.length) {
        html += '<ul class="gswitch-hints">';
        for (var h = 0; h < hints.length; h++) html += '<li>' + esc(hints[h]) + '</li>';
        html += '</ul>';
      }
      if (m) {
        var t = data.totals || {};
        var kv = [
          ['m_master', 'PID ' + m.pid], ['m_version', m.version || '-'], ['m_bind', m.bind || '-'],
          ['m_age', duration(m.age)], ['m_workers', t.workers], ['m_busy', t.busy === null || t.busy === undefined ? '-' : t.busy],
          ['m_requests', num(t.requests)], ['m_rps', num(t.rps)], ['m_rss', mb(t.rss)]
        ];
        if (t.latency) kv.push(['m_pct', gswitch.pctText(t.latency)]);
        var sat = data.saturation || {};
        if (sat.busy_ratio !== null && sat.busy_ratio !== undefined) {
          kv.push(['m_busy_ratio', Math.round(sat.busy_ratio * 100) + '% (' + sat.busy_slots + ' / ' + sat.slots + ')']);
        }
        if (sat.listen) kv.push(['m_queue', sat.listen.queue + ' / ' + (sat.listen.backlog === null ? '-' : sat.listen.backlog)]);
        if (sat.saturated) {
          html += '<div class="gswitch-note gswitch-note-error gswitch-saturated"><b>' + esc(gswitch.t('sat_badge')) + '</b> ' +
            esc(sat.advice || '') + '</div>';
        }
        html += '<div class="gswitch-master">';
        for (var k = 0; k < kv.length; k++) {
          html += '<span class="gswitch-master-item"><span class="c9">' + esc(gswitch.t(kv[k][0])) + '</span> <b>' +
            esc(kv[k][1]) + '</b></span>';
        }
        if (m.config) html += '<div class="gswitch-mono c9" title="' + esc(m.config) + '">' + esc(gswitch.t('m_config')) + ': ' + esc(m.config) + '</div>';
        html += '</div>';
        html += gswitch.workersHtml(data.workers || []);
      }
      html += gswitch.exitsHtml(data.recent_exits || []);
      body.html(html);
      if (m) gswitch.renderCharts();
      else gswitch.disposeCharts();
      if (m && managed) gswitch.loadHistory(false);
      root.find('.gswitch-status-site').val(site);
    },

    /* The last exits as cards; a card with stacks (a timeout) opens to show them. */
    exitsHtml: function (exits) {
      if (!exits.length) return '';
      var html = '<h4 class="gswitch-h4">' + esc(gswitch.t('exits_title')) + '</h4><div class="gswitch-exits">';
      for (var e = 0; e < exits.length; e++) {
        var x = exits[e];
        var bad = x.cause && x.cause !== 'exit' && x.cause !== 'max_requests' && x.cause !== 'max_lifetime' && x.cause !== 'memory';
        var head = '<span class="gswitch-exit-time">' + esc(x.time ? clock(x.time) : '-') + '</span> ' +
          '<b class="gswitch-exit-cause">' + esc(gswitch.causeText(x.cause)) + '</b> ' +
          '<span class="c9">PID ' + esc(x.pid) + '</span>';
        if (x.rss) head += ' <span class="c9">' + esc(gswitch.t(x.rss_seen ? 'exit_rss_seen' : 'exit_rss')) + ' ' + esc(mb(x.rss)) + '</span>';
        if (x.request) {
          head += ' <span class="gswitch-mono">' + esc((x.request.method || '') + ' ' + (x.request.path || '')) +
            (x.request.elapsed === null || x.request.elapsed === undefined ? '' : ' (' + esc(num(x.request.elapsed, 1)) + 's)') + '</span>';
        }
        var detail = x.detail ? '<div class="gswitch-mono c9 gswitch-ellipsis" title="' + esc(x.detail) + '">' + esc(x.detail) + '</div>' : '';
        var stacks = x.stacks || [];
        var cls = 'gswitch-exit-card' + (bad ? ' gswitch-row-exit' : '');
        if (!stacks.length) {
          html += '<div class="' + cls + '"><div class="gswitch-exit-head">' + head + '</div>' + detail + '</div>';
          continue;
        }
        html += '<details class="' + cls + '"><summary class="gswitch-exit-head">' + head +
          ' <span class="gswitch-exit-more">' + esc(gswitch.t('exit_stacks', {n: stacks.length})) + '</span></summary>' + detail;
        for (var k = 0; k < stacks.length; k++) {
          html += '<div class="gswitch-exit-thread c9">' + esc(stacks[k].thread) + '</div>' +
            '<pre class="gswitch-exit-stack">' + esc(stacks[k].stack) + '</pre>';
        }
        html += '</details>';
      }
      return html + '</div>';
    },

    causeText: function (cause) {
      return cause && I18N.zh['cause_' + cause] ? gswitch.t('cause_' + cause) : (cause || '-');
    },

    opButton: function (op, label, cls, disabled) {
      return '<button type="button" class="btn btn-sm ' + cls + ' gswitch-op" data-op="' + op + '"' +
        (disabled ? ' disabled' : '') + '>' + esc(gswitch.t(label)) + '</button> ';
    },

    /* "12 / 80 / 310 ms" for a {p50, p95, p99} in ms; "-" without requests in the minute. */
    pctText: function (p) {
      if (!p || p.p50 === null || p.p50 === undefined) return '-';
      return num(p.p50, p.p50 < 10 ? 1 : 0) + ' / ' + num(p.p95, p.p95 < 10 ? 1 : 0) + ' / ' +
        num(p.p99, p.p99 < 10 ? 1 : 0) + ' ms';
    },

    workersHtml: function (workers) {
      var cols = ['col_pid', 'col_age', 'col_cpu', 'col_rss', 'col_requests', 'col_rps', 'col_avg', 'col_pct', 'col_state', 'col_current'];
      var html = '<div class="divtable gswitch-workers"><table class="table table-hover"><thead><tr>';
      for (var c = 0; c < cols.length; c++) html += '<th>' + esc(gswitch.t(cols[c])) + '</th>';
      html += '</tr></thead><tbody>';
      for (var i = 0; i < workers.length; i++) {
        var w = workers[i];
        var state;
        var cls = [];
        if (w.exiting) { state = gswitch.t('w_exiting'); cls.push('gswitch-row-exit'); }
        else if (w.busy === null || w.busy === undefined) state = '-';
        else if (w.busy) { state = gswitch.t('w_busy'); cls.push('gswitch-row-busy'); }
        else state = gswitch.t('w_idle');
        var cur = '';
        if (w.current) cur = (w.current.method || '') + ' ' + (w.current.path || '') + ' (' + num(w.current.seconds, 1) + 's)';
        var pidCell = esc(w.pid);
        if (w.last_exit) {
          var bad = w.last_exit.cause && w.last_exit.cause !== 'exit' && w.last_exit.cause !== 'max_requests';
          if (bad) cls.push('gswitch-row-replaced');
          pidCell += ' <span class="gswitch-tag' + (bad ? ' gswitch-tag-bad' : '') + '" title="' + esc(gswitch.t('w_replaced', {
            pid: w.last_exit.pid, cause: gswitch.causeText(w.last_exit.cause)})) + '">↻</span>';
        }
        html += '<tr class="gswitch-worker ' + cls.join(' ') + '" data-pid="' + esc(w.pid) + '">' +
          '<td>' + pidCell + '</td><td>' + esc(duration(w.age)) + '</td><td>' + esc(num(w.cpu, 1)) + '%</td>' +
          '<td>' + esc(mb(w.rss)) + '</td><td class="gswitch-requests">' + esc(num(w.requests)) + '</td>' +
          '<td>' + esc(num(w.rps, 2)) + '</td><td>' + esc(w.avg_ms === null || w.avg_ms === undefined ? '-' : num(w.avg_ms, 1) + ' ms') + '</td>' +
          '<td class="gswitch-pct">' + esc(gswitch.pctText(w.latency)) + '</td>' +
          '<td class="gswitch-state">' + esc(state) + '</td><td class="gswitch-mono gswitch-ellipsis" title="' + esc(cur) + '">' + esc(cur || '-') + '</td></tr>';
      }
      if (!workers.length) html += '<tr><td colspan="10" class="gswitch-empty">-</td></tr>';
      return html + '</tbody></table></div>';
    },

    /* The panel loads echarts when the page's HTML has echarts.init; without it, a note. */
    renderCharts: function () {
      var root = gswitch.root;
      var box = root.find('.gswitch-charts');
      var echarts = window.echarts;
      if (!echarts || typeof echarts.init !== 'function') {
        gswitch.disposeCharts();
        box.html('<div class="gswitch-note">' + esc(gswitch.t('charts_missing')) + '</div>');
        return;
      }
      var metrics = ['rps', 'cpu', 'rss'];
      var titles = {rps: 'chart_rps', cpu: 'chart_cpu', rss: 'chart_rss'};
      if (!gswitch.charts.length) {
        var html = '<h4 class="gswitch-h4">' + esc(gswitch.t('charts_title')) + '</h4><div class="gswitch-chart-row">';
        for (var i = 0; i < metrics.length; i++) {
          html += '<div class="gswitch-chart-cell"><div class="gswitch-chart-title c9">' + esc(gswitch.t(titles[metrics[i]])) +
            '</div><div class="gswitch-chart" data-metric="' + metrics[i] + '"></div></div>';
        }
        box.html(html + '</div>');
        box.find('.gswitch-chart').each(function () {
          gswitch.charts.push({metric: $(this).attr('data-metric'), chart: echarts.init(this)});
        });
      }
      var dark = gswitch.isDark();
      var text = dark ? '#aaa' : '#888';
      var line = dark ? 'rgba(255,255,255,.12)' : 'rgba(0,0,0,.08)';
      var hist = gswitch.status.hist || {series: {}};
      for (var c = 0; c < gswitch.charts.length; c++) {
        var metric = gswitch.charts[c].metric;
        var series = [];
        var tmax = new Date().getTime();
        for (var pid in hist.series) {
          if (!hist.series.hasOwnProperty(pid)) continue;
          var data = hist.series[pid][metric];
          // a worker with one sample so far has no line to draw: show its point instead
          var points = 0;
          for (var k = 0; k < data.length && points < 2; k++) {
            if (data[k][1] !== null) points++;
          }
          series.push({name: pid, type: 'line', showSymbol: points < 2, symbolSize: 4,
            smooth: false, connectNulls: false, lineStyle: {width: 1.5}, data: data});
        }
        gswitch.charts[c].chart.setOption({
          backgroundColor: 'transparent',
          animation: false,
          grid: {left: 36, right: 8, top: 8, bottom: 22},
          tooltip: {trigger: 'axis', confine: true},
          // a fixed window: with one sample echarts would otherwise pick a range of days
          xAxis: {type: 'time', min: tmax - 300000, max: tmax,
            axisLabel: {color: text, fontSize: 9, hideOverlap: true, formatter: '{HH}:{mm}'},
            axisLine: {lineStyle: {color: line}}, splitLine: {show: false}},
          yAxis: {type: 'value', min: 0, axisLabel: {color: text, fontSize: 9}, splitLine: {lineStyle: {color: line}}},
          series: series
        }, true);
      }
    },

    disposeCharts: function () {
      var all = gswitch.charts.concat(gswitch.hcharts || []);
      for (var i = 0; i < all.length; i++) {
        try { all[i].chart.dispose(); } catch (e) { /* gone with the dialog */ }
      }
      gswitch.charts = [];
      gswitch.hcharts = [];
      gswitch.historyAt = 0;
    },

    /* The master's history ring (get_history): fetched when the span changes, else every 30 s. */
    loadHistory: function (force) {
      var now = new Date().getTime();
      if (!force && gswitch.historyAt && now - gswitch.historyAt < 30000) return;
      var echarts = window.echarts;
      if (!echarts || typeof echarts.init !== 'function') return;
      gswitch.historyAt = now;
      var span = gswitch.historySpan || 3600;
      gswitch.call('get_history', {site: gswitch.status.site, span: span}, function (data) {
        try { gswitch.renderHistory(data); } catch (e) { gswitch.historyAt = 0; }
      }, {loading: false, fail: function () { gswitch.historyAt = 0; }});
    },

    renderHistory: function (data) {
      var box = gswitch.root.find('.gswitch-history');
      var span = gswitch.historySpan || 3600;
      var spans = [[300, 'hist_5m'], [3600, 'hist_1h'], [86400, 'hist_24h']];
      var html = '<h4 class="gswitch-h4">' + esc(gswitch.t('hist_title')) + '</h4><div class="gswitch-hist-spans mb10">';
      for (var i = 0; i < spans.length; i++) {
        html += '<button type="button" class="btn btn-xs ' + (spans[i][0] === span ? 'btn-success' : 'btn-default') +
          ' gswitch-hist-span" data-span="' + spans[i][0] + '">' + esc(gswitch.t(spans[i][1])) + '</button> ';
      }
      html += '</div>';
      var pts = data.points || [];
      if (!pts.length) {
        box.html(html + '<div class="gswitch-note">' + esc(gswitch.t('hist_empty')) + '</div>');
        return;
      }
      var metrics = [['rps', 'hist_rps', function (p) { return p.rps; }],
        ['p95', 'hist_p95', function (p) { return p.p95; }],
        ['busy', 'hist_busy', function (p) { return Math.round(p.busy_ratio * 1000) / 10; }],
        ['rss', 'hist_rss', function (p) { return Math.round(p.rss_sum / 104857.6) / 10; }]];
      html += '<div class="gswitch-chart-row">';
      for (var k = 0; k < metrics.length; k++) {
        html += '<div class="gswitch-chart-cell gswitch-hist-cell"><div class="gswitch-chart-title c9">' + esc(gswitch.t(metrics[k][1])) +
          '</div><div class="gswitch-chart" data-hist="' + k + '"></div></div>';
      }
      for (var d = 0; d < (gswitch.hcharts || []).length; d++) {
        try { gswitch.hcharts[d].chart.dispose(); } catch (e) { /* replaced */ }
      }
      gswitch.hcharts = [];
      box.html(html + '</div>');
      var dark = gswitch.isDark();
      var text = dark ? '#aaa' : '#666';
      var line = dark ? 'rgba(255,255,255,.12)' : 'rgba(0,0,0,.08)';
      var tmax = new Date().getTime();
      box.find('.gswitch-chart').each(function () {
        var m = metrics[Number($(this).attr('data-hist'))];
        var series = [];
        for (var j = 0; j < pts.length; j++) series.push([pts[j].t * 1000, m[2](pts[j])]);
        var chart = window.echarts.init(this);
        chart.setOption({backgroundColor: 'transparent', animation: false,
          grid: {left: 36, right: 8, top: 8, bottom: 22}, tooltip: {trigger: 'axis', confine: true},
          xAxis: {type: 'time', min: tmax - span * 1000, max: tmax,
            axisLabel: {color: text, fontSize: 9, hideOverlap: true, formatter: '{HH}:{mm}'},
            axisLine: {lineStyle: {color: line}}, splitLine: {show: false}},
          yAxis: {type: 'value', min: 0, axisLabel: {color: text, fontSize: 9}, splitLine: {lineStyle: {color: line}}},
          series: [{type: 'line', showSymbol: false, connectNulls: false, lineStyle: {width: 1.5}, data: series}]});
        gswitch.hcharts.push({chart: chart});
      });
    },

    isDark: function () {
      var b = $('body');
      return b.hasClass('dark') || b.hasClass('dark-theme') || $('html').hasClass('dark') ||
        b.attr('data-theme') === 'dark' || $('html').attr('data-theme') === 'dark';
    },

    control: function (op) {
      var site = gswitch.status.site;
      if (!site) return;
      function run() {
        gswitch.clear('status');
        gswitch.call('control', {site: site, op: op}, function (data) {
          data = data || {};
          var n;
          var msg;
          if (op === 'reload') msg = gswitch.t('op_done_reload', {n: (data.new_workers || []).length});
          else if (op === 'add_worker' || op === 'remove_worker') {
            n = (data.workers_after || []).length;
            msg = gswitch.t('op_done_' + op, {n: n});
          } else msg = gswitch.t('op_done_' + op, {pid: data.master_after || '-'});
          if (data.done === false) layer.msg(esc(gswitch.t('op_partial')), {icon: 0, time: 4000});
          else layer.msg(esc(msg), {icon: 1, time: 2500});
          gswitch.status.inflight = false;
          gswitch.status.gen += 1;
          gswitch.pollStatus();
        }, {
          loading: gswitch.t('op_' + op), timeout: 90000,
          fail: function () {
            gswitch.status.inflight = false;
            gswitch.status.gen += 1;
            gswitch.pollStatus();
          }
        });
      }
      if (op === 'restart') {
        var lossless = !!(gswitch.status.data && gswitch.status.data.restart_lossless);
        var index = layer.confirm(esc(gswitch.t(lossless ? 'restart_confirm_lossless' : 'restart_confirm', {site: site})), {
          title: esc(gswitch.t('btn_restart')), icon: 3, closeBtn: 2,
          btn: [gswitch.t('btn_restart'), gswitch.t('cancel')],
          end: function () { delete gswitch.layers.confirm; }
        }, function (idx) { layer.close(idx); run(); });
        gswitch.layers.confirm = index;
      } else {
        run();
      }
    },

    // -- 日志 ----------------------------------------------------------------------------

    loadLogs: function (manual) {
      gswitch.clear('logs');
      var lg = gswitch.logs;
      var root = gswitch.root;
      if (!root || gswitch.currentTab !== 'logs' || !lg.site) return;
      if (lg.inflight && !manual) return;
      var pre = root.find('.gswitch-log-text');
      var note = root.find('.gswitch-logs-msg');
      var site = lg.site;
      var kind = lg.kind;
      lg.inflight = true;
      lg.seq = (lg.seq || 0) + 1;
      var seq = lg.seq;
      function next(ms) {
        if (lg.follow && gswitch.currentTab === 'logs' && !document.hidden) {
          gswitch.later('logs', function () { gswitch.loadLogs(false); }, ms);
        }
      }
      gswitch.call('get_logs', {site: site, kind: kind, lines: lg.lines}, function (text) {
        if (seq !== lg.seq) return;
        lg.inflight = false;
        note.empty();
        text = typeof text === 'string' ? text : '';
        var el = pre[0];
        var atEnd = !el || manual || el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        if (pre.data('text') !== text) {
          pre.text(text || gswitch.t('logs_empty')).data('text', text);
          if (atEnd && el) el.scrollTop = el.scrollHeight;
        }
        root.find('.gswitch-logs-updated').text(gswitch.t('updated', {time: clock()}));
        next(LOG_POLL_MS);
      }, {
        loading: manual ? gswitch.t('loading') : false, quiet: !manual, timeout: 20000,
        fail: function (msg) {
          if (seq !== lg.seq) return;
          lg.inflight = false;
          note.html('<div class="gswitch-note gswitch-note-error">' + esc(msg) + '</div>');
          next(LOG_POLL_MS * 2);
        }
      });
    }
  };

  window.gswitch = gswitch;
  gswitch.init();
})(window, jQuery);
