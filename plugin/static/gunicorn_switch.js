/*
 * gunicorn_switch panel page, the core. Runs inside the panel's page (jQuery 2.2.4 + layer),
 * injected into a layer dialog; ES5 only. One global: `gswitch`, which holds the page's whole
 * state and its code. index.html loads the parts in this order, then calls gswitch.init():
 *
 *   gunicorn_switch.js         this file: state, helpers, lifecycle, call(), tabs, the sites table
 *   gunicorn_switch.i18n.js    the words, zh and en
 *   gunicorn_switch.switch.js  the plan, the switch and rollback tasks
 *   gunicorn_switch.status.js  状态: workers, operations, live charts, the master's history
 *   gunicorn_switch.logs.js    日志 and 设置 → 日志切割
 *
 * The other files only add to `gswitch` (the words; methods, with $.extend): every piece of
 * state is declared below. The panel re-runs the files each time the dialog opens: the same
 * release keeps its object (the sites, the status and logs choices), another release's is torn
 * down and replaced; then `gswitch.init()` binds the newest dialog.
 *
 * Timers: every timer goes through gswitch.later(name, ...) and every request through
 * gswitch.call(); when the dialog is closed (its element leaves the document) teardown()
 * clears the timers, aborts the requests, disposes the charts and closes our sub-dialogs.
 */
(function (window, $) {
  'use strict';
  // The page's release: index.html carries it (tools/build_dist.py writes it there, and in the
  // ?v= of every file); the backend's comes from get_info. A checkout's page has none.
  var VERSION = $('.gswitch[data-version]').last().attr('data-version') || '';
  var STAMPED = !!VERSION && VERSION.indexOf('__') !== 0;
  if (window.gswitch && window.gswitch.loaded) {
    // The panel's page outlives an upgrade of the plugin: run this release's code, not the
    // one the window kept from before.
    if (window.gswitch.version === VERSION) return;
    if (window.gswitch.root) window.gswitch.teardown();
  }

  var PLUGIN = 'gunicorn_switch';
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
    // -- the page's state: every field the parts read or write ------------------------------
    backendVersion: null,  // get_info
    panelLang: null,       // get_info: the panel's language, null when it did not say
    lang: 'zh',            // the language shown
    i18n: {},              // gunicorn_switch.i18n.js: {zh: {key: text}, en: {...}}
    root: null,            // the dialog's .gswitch element, null once it is closed
    currentTab: null,
    sites: [],             // get_sites
    timers: {},            // later(): name -> timeout id
    xhrs: [],              // call(): the requests in flight
    layers: {},            // our sub-dialogs: plan, task, confirm -> layer index
    observer: null,        // watchClose()
    visibilityBound: false,
    plan: null,            // the plan dialog's state (switch part)
    task: null,            // the task dialog's state (switch part)
    // open: the exit cards the user opened (pid-time keys), kept open across polls
    status: {site: null, gen: 0, inflight: false, data: null, hist: null, open: {}},
    charts: [],            // the live charts: {metric, chart}
    hcharts: [],           // the history charts: {chart}
    historySpan: 3600,     // seconds of the master's history shown
    historyAt: 0,          // when it was last fetched (ms), 0 to fetch again
    historySeq: 0,         // the latest get_history asked: an older answer is dropped
    logs: {site: null, kind: 'error', lines: 200, follow: false, inflight: false, seq: 0},

    // -- helpers the parts share ---------------------------------------------------------------
    util: {stored: stored, store: store, esc: esc, num: num, mb: mb, duration: duration, clock: clock},

    t: function (key, vars) {
      var words = gswitch.i18n;
      var text = (words[gswitch.lang] && words[gswitch.lang][key]) || (words.zh && words.zh[key]) || key;
      if (vars) {
        text = text.replace(/\{(\w+)\}/g, function (m, name) {
          return vars.hasOwnProperty(name) ? vars[name] : m;
        });
      }
      return text;
    },

    /* Whether the page has a text for key (so that an unknown value is shown as it is). */
    has: function (key) {
      return !!(gswitch.i18n.zh && gswitch.i18n.zh[key]);
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
      gswitch.currentTab = null;
      gswitch.loadInfo(function () {
        // a tab opened while get_info was on its way stays, and is shown again with the sites
        var tab = gswitch.currentTab;
        if (!tab || tab === 'sites') {
          gswitch.showTab('sites');
          gswitch.loadSites();
        } else {
          gswitch.loadSites(function () { gswitch.showTab(tab); });
        }
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

    /* The core's handlers (tabs, the sites table's links, the language), then each part's. */
    bind: function (root) {
      root.on('click', '.gswitch-menu p', function () {
        gswitch.showTab($(this).attr('data-tab'));
      });
      root.on('click', '.gswitch-refresh', function () { gswitch.loadSites(); });
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
      gswitch.bindSwitch(root);
      gswitch.bindStatus(root);
      gswitch.bindLogs(root);
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
      gswitch.status = {site: gswitch.status.site, gen: gswitch.status.gen + 1, inflight: false, data: null, hist: null, open: {}};
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
      return gswitch.has(key) ? gswitch.t(key) : String(manager);
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

    // -- the site pickers of 状态, 日志 and 设置 ----------------------------------------

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
  };

  window.gswitch = gswitch;
})(window, jQuery);
