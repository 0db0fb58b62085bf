/*
 * gunicorn_switch page, 日志: the tail of a switched site's Gunicorn error or access log
 * (get_logs), followed every 2 s when asked; and 设置 → 日志切割, the rotation and memory
 * limit lines of the site's gunicorn_conf.py. Adds methods to `gswitch`; its state is
 * gswitch.logs.
 */
(function (window, $) {
  'use strict';
  var gswitch = window.gswitch;
  var util = gswitch.util;
  var esc = util.esc;
  var clock = util.clock;
  var LOG_POLL_MS = 2000;

  $.extend(gswitch, {
    bindLogs: function (root) {
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
      root.on('change', '.gswitch-logs-follow', function () {
        gswitch.logs.follow = $(this).prop('checked');
        if (gswitch.logs.follow) gswitch.loadLogs(false); else gswitch.clear('logs');
      });
      root.on('change', '.gswitch-rot-site', function () { gswitch.loadRotation(); });
      root.on('click', '.gswitch-rot-save', function () { gswitch.saveRotation(); });
    },

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
    }
  });
})(window, jQuery);
