/*
 * gunicorn_switch panel page. Runs inside the panel's page (jQuery 2.2.4 + layer), injected
 * into a layer dialog; ES5 only. One global: `gswitch`. The panel re-runs this file each time
 * the dialog opens: the code is defined once, and `gswitch.init()` binds the newest dialog.
 */
(function (window, $) {
  'use strict';
  if (window.gswitch && window.gswitch.loaded) {
    window.gswitch.init();
    return;
  }

  var PLUGIN = 'gunicorn_switch';
  var VERSION = '1.0.0';

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
      managed: '由本插件管理',
      act_switch: '切换到 Gunicorn', act_rollback: '回滚到 uWSGI',
      plan_loading: '正在生成切换计划…', plan_title: '切换计划：{site}',
      plan_settings: 'Gunicorn 设置', plan_warnings: '注意事项', plan_steps: '执行步骤',
      plan_conf: '将写入的 gunicorn_conf.py', plan_diff: 'nginx 配置改动', plan_none: '无',
      plan_start: '开始切换', cancel: '取消',
      not_yet: '该功能尚未开放，敬请期待',
      err_http: '请求失败（HTTP {code}），请稍后重试',
      err_timeout: '请求超时，请稍后重试',
      err_network: '无法连接到面板，请检查网络',
      err_parse: '面板返回了无法识别的数据',
      err_unknown: '操作失败',
      soon_status: '进程状态（主进程与每个 worker 的 PID、CPU、内存、请求数）即将推出。',
      soon_logs: 'Gunicorn 错误日志与访问日志查看即将推出。',
      soon_settings: '默认 worker 数、超时等更多设置即将推出。',
      language: '界面语言', lang_auto: '跟随面板', lang_saved: '界面语言已切换',
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
      col_upstream: 'Upstream', col_action: 'Action',
      no_sites: 'No Django site running on uWSGI or Gunicorn was found',
      help_sites_1: 'Django sites on this server that run on uWSGI, and the ones already running on Gunicorn.',
      help_sites_2: 'Before a switch you see the plan: the gunicorn_conf.py to write, the nginx change and every step. Nothing happens until you confirm.',
      server_uwsgi: 'uWSGI', server_gunicorn: 'Gunicorn', server_stopped: 'Stopped', server_unknown: 'Unknown',
      managed: 'Managed by this plugin',
      act_switch: 'Switch to Gunicorn', act_rollback: 'Roll back to uWSGI',
      plan_loading: 'Preparing the switch plan…', plan_title: 'Switch plan: {site}',
      plan_settings: 'Gunicorn settings', plan_warnings: 'Warnings', plan_steps: 'Steps',
      plan_conf: 'gunicorn_conf.py to be written', plan_diff: 'nginx change', plan_none: 'None',
      plan_start: 'Start the switch', cancel: 'Cancel',
      not_yet: 'This feature is not available yet',
      err_http: 'Request failed (HTTP {code}), please try again',
      err_timeout: 'The request timed out, please try again',
      err_network: 'Cannot reach the panel, please check the connection',
      err_parse: 'The panel returned data that could not be read',
      err_unknown: 'The operation failed',
      soon_status: 'Process status (PID, CPU, memory and requests of the master and every worker) is coming soon.',
      soon_logs: 'Viewing the Gunicorn error and access logs is coming soon.',
      soon_settings: 'More settings (default workers, timeouts) are coming soon.',
      language: 'Language', lang_auto: 'Same as the panel', lang_saved: 'Language changed',
      about_1: 'Moves a Django site from uWSGI to Gunicorn safely, and then runs it.',
      about_2: 'Finds sites from running processes, nginx vhosts, the panel\'s sites, Supervisor programs and Python projects.',
      about_3: 'Zero-downtime switch: Gunicorn starts on a new bind and is health-checked, then nginx is switched gracefully, then uWSGI is stopped.',
      about_4: 'Any failure restores everything as it was, and the site keeps serving; you can roll back to uWSGI at any time.',
      about_5: 'Afterwards: worker status, graceful reload, add or remove workers, logs.'
    }
  };

  var STORE_KEY = 'gswitch_lang';

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
   * The page's language. 1) the user's choice in 设置; 2) the panel's: aaPanel (the international
   * edition) is English, BaoTa is Chinese — told by the page title or the <html lang>; 3) the
   * browser's language; Chinese for any zh-*, English otherwise.
   */
  function detectLang() {
    var choice = stored(STORE_KEY);
    if (choice === 'zh' || choice === 'en') return choice;
    if (/aapanel/i.test(document.title || '')) return 'en';
    if (/宝塔|bt-?panel/i.test(document.title || '')) return 'zh';
    var html = (document.documentElement.getAttribute('lang') || '').toLowerCase();
    if (html.indexOf('zh') === 0) return 'zh';
    if (html.indexOf('en') === 0) return 'en';
    var nav = (window.navigator.language || window.navigator.userLanguage || 'zh').toLowerCase();
    return nav.indexOf('zh') === 0 ? 'zh' : 'en';
  }

  function esc(value) {
    if (value === null || value === undefined) return '';
    return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
      .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
  }

  var gswitch = {
    loaded: true,
    version: VERSION,
    i18n: I18N,
    lang: 'zh',
    root: null,
    sites: [],

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
      var root = roots.last();
      root.attr('data-gswitch-ready', '1');
      gswitch.root = root;
      gswitch.lang = detectLang();
      gswitch.translate();
      root.find('.gswitch-lang').val(stored(STORE_KEY) || 'auto');

      root.on('click', '.gswitch-menu p', function () {
        gswitch.showTab($(this).attr('data-tab'));
      });
      root.on('click', '.gswitch-refresh', function () { gswitch.loadSites(); });
      root.on('click', '.gswitch-act-switch', function () {
        gswitch.showPlan($(this).closest('tr').attr('data-site'));
      });
      root.on('click', '.gswitch-act-rollback', function () {
        layer.msg(gswitch.t('not_yet'), {icon: 0});
      });
      root.on('change', '.gswitch-lang', function () {
        var value = $(this).val();
        store(STORE_KEY, value === 'auto' ? null : value);
        gswitch.lang = detectLang();
        gswitch.translate();
        gswitch.renderSites();
        layer.msg(gswitch.t('lang_saved'), {icon: 1});
      });
      gswitch.showTab('sites');
      gswitch.loadSites();
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
      root.find('.gswitch-menu p').removeClass('bgw')
        .filter('[data-tab="' + tab + '"]').addClass('bgw');
      root.find('.gswitch-pane').hide().filter('[data-pane="' + tab + '"]').show();
    },

    /*
     * POST /plugin?action=a&name=gunicorn_switch&s=<method>. The panel's $.ajaxSetup adds the
     * x-http-token header. ok(data, msg) runs on status true; every failure is shown with
     * layer.msg (and fail(), if given, runs so that the caller can clean up).
     */
    call: function (method, args, ok, opts) {
      opts = opts || {};
      var loading = opts.loading === false ? null :
        layer.msg(opts.loading || gswitch.t('loading'), {icon: 16, time: 0, shade: 0.3});
      function failed(msg) {
        layer.msg(msg || gswitch.t('err_unknown'), {icon: 2, time: 5000, shadeClose: true});
        if (opts.fail) opts.fail(msg);
      }
      return $.ajax({
        url: '/plugin?action=a&name=' + PLUGIN + '&s=' + method,
        type: 'POST',
        data: args || {},
        dataType: 'json',
        timeout: opts.timeout || 60000,
        success: function (res) {
          if (loading !== null) layer.close(loading);
          loading = null;
          if (!res || typeof res !== 'object') return failed(gswitch.t('err_parse'));
          if (res.status !== true) return failed(res.msg);
          ok(res.data, res.msg);
        },
        error: function (xhr, textStatus) {
          if (loading !== null) layer.close(loading);
          loading = null;
          if (textStatus === 'timeout') return failed(gswitch.t('err_timeout'));
          if (textStatus === 'parsererror') return failed(gswitch.t('err_parse'));
          if (!xhr.status) return failed(gswitch.t('err_network'));
          failed(gswitch.t('err_http', {code: xhr.status}));
        }
      });
    },

    loadSites: function () {
      var body = gswitch.root.find('.gswitch-sites tbody');
      body.html('<tr><td colspan="6" class="gswitch-empty">' + esc(gswitch.t('loading')) + '</td></tr>');
      gswitch.call('get_sites', {}, function (data) {
        gswitch.sites = $.isArray(data) ? data : [];
        gswitch.renderSites();
      }, {
        timeout: 60000,
        fail: function (msg) {
          gswitch.root.find('.gswitch-count').text('');
          body.html('<tr><td colspan="6" class="gswitch-empty gswitch-error">' +
            esc(msg || gswitch.t('err_unknown')) + '</td></tr>');
        }
      });
    },

    serverLabel: function (server) {
      var known = {uwsgi: 1, gunicorn: 1, stopped: 1, unknown: 1};
      var kind = known[server] ? server : 'unknown';
      return '<span class="gswitch-label gswitch-label-' + kind + '">' +
        esc(gswitch.t('server_' + kind)) + '</span>';
    },

    renderSites: function () {
      var root = gswitch.root;
      if (!root) return;
      var body = root.find('.gswitch-sites tbody');
      var sites = gswitch.sites;
      root.find('.gswitch-count').text(gswitch.t('count', {n: sites.length}));
      if (!sites.length) {
        body.html('<tr><td colspan="6" class="gswitch-empty">' + esc(gswitch.t('no_sites')) + '</td></tr>');
        return;
      }
      var rows = [];
      for (var i = 0; i < sites.length; i++) {
        var s = sites[i] || {};
        var action = '';
        if (s.server === 'uwsgi') {
          action = '<a class="btlink gswitch-act-switch" href="javascript:;">' + esc(gswitch.t('act_switch')) + '</a>';
        } else if (s.server === 'gunicorn' && s.managed_by_plugin) {
          action = '<a class="btlink gswitch-act-rollback" href="javascript:;">' + esc(gswitch.t('act_rollback')) + '</a>';
        }
        var manager = esc(s.manager || '-');
        if (s.managed_by_plugin) {
          manager += ' <span class="gswitch-mark" title="' + esc(gswitch.t('managed')) + '">★</span>';
        }
        rows.push('<tr data-site="' + esc(s.site) + '">' +
          '<td class="gswitch-site">' + esc(s.site) + '</td>' +
          '<td>' + gswitch.serverLabel(s.server) + '</td>' +
          '<td>' + manager + '</td>' +
          '<td class="gswitch-path" title="' + esc(s.project_path) + '">' + esc(s.project_path || '-') + '</td>' +
          '<td class="gswitch-upstream" title="' + esc(s.upstream) + '">' + esc(s.upstream || '-') + '</td>' +
          '<td class="text-right gswitch-action">' + action + '</td>' +
          '</tr>');
      }
      body.html(rows.join(''));
    },

    /* Ask the backend for the plan (nothing changes) and show it. */
    showPlan: function (site) {
      gswitch.call('plan', {site: site}, function (data) {
        data = data || {};
        layer.open({
          type: 1,
          title: esc(gswitch.t('plan_title', {site: site})),
          area: ['640px', '560px'],
          closeBtn: 2,
          shadeClose: false,
          skin: 'gswitch-plan-layer',
          content: gswitch.planHtml(data),
          btn: [gswitch.t('plan_start'), gswitch.t('cancel')],
          yes: function () {
            layer.msg(gswitch.t('not_yet'), {icon: 0});
          }
        });
      }, {loading: gswitch.t('plan_loading'), timeout: 60000});
    },

    itemText: function (item) {
      if (item === null || item === undefined) return '';
      if (typeof item !== 'object') return String(item);
      var head = item.title || item.name || item.option || item.key || '';
      var tail = item.msg || item.message || item.detail || item.description || '';
      if (head || tail) return head && tail ? head + ': ' + tail : String(head || tail);
      return JSON.stringify(item);
    },

    listHtml: function (items, ordered) {
      if (!items || !items.length) return '<p class="c9">' + esc(gswitch.t('plan_none')) + '</p>';
      var tag = ordered ? 'ol' : 'ul';
      var html = '<' + tag + ' class="gswitch-list">';
      for (var i = 0; i < items.length; i++) html += '<li>' + esc(gswitch.itemText(items[i])) + '</li>';
      return html + '</' + tag + '>';
    },

    diffHtml: function (diff) {
      if (!diff) return '<p class="c9">' + esc(gswitch.t('plan_none')) + '</p>';
      var lines = String(diff).split('\n');
      var out = [];
      for (var i = 0; i < lines.length; i++) {
        var line = lines[i];
        var cls = '';
        if (/^(\+\+\+|---)/.test(line)) cls = 'gswitch-diff-file';
        else if (line.charAt(0) === '+') cls = 'gswitch-diff-add';
        else if (line.charAt(0) === '-') cls = 'gswitch-diff-del';
        else if (line.indexOf('@@') === 0) cls = 'gswitch-diff-hunk';
        out.push('<span class="' + cls + '">' + esc(line) + '</span>');
      }
      return '<pre class="gswitch-pre">' + out.join('\n') + '</pre>';
    },

    planHtml: function (data) {
      var settings = data.settings || {};
      var rows = '';
      for (var key in settings) {
        if (settings.hasOwnProperty(key)) {
          var v = settings[key];
          rows += '<tr><td class="gswitch-key">' + esc(key) + '</td><td>' +
            esc(typeof v === 'object' ? JSON.stringify(v) : v) + '</td></tr>';
        }
      }
      var html = '<div class="gswitch-plan pd15">';
      html += '<h4>' + esc(gswitch.t('plan_settings')) + '</h4>';
      html += rows ? '<div class="divtable mb15"><table class="table">' + rows + '</table></div>' :
        '<p class="c9">' + esc(gswitch.t('plan_none')) + '</p>';
      var warnings = data.warnings || [];
      html += '<h4>' + esc(gswitch.t('plan_warnings')) + '</h4>';
      html += warnings.length ? '<div class="gswitch-warnings">' + gswitch.listHtml(warnings) + '</div>' :
        '<p class="c9">' + esc(gswitch.t('plan_none')) + '</p>';
      html += '<h4>' + esc(gswitch.t('plan_steps')) + '</h4>' + gswitch.listHtml(data.steps, true);
      html += '<h4>' + esc(gswitch.t('plan_conf')) + '</h4>';
      html += data.gunicorn_conf ? '<pre class="gswitch-pre">' + esc(data.gunicorn_conf) + '</pre>' :
        '<p class="c9">' + esc(gswitch.t('plan_none')) + '</p>';
      html += '<h4>' + esc(gswitch.t('plan_diff')) + '</h4>' + gswitch.diffHtml(data.nginx_diff);
      return html + '</div>';
    }
  };

  window.gswitch = gswitch;
  gswitch.init();
})(window, jQuery);
