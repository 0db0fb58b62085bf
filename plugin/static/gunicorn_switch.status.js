/*
 * gunicorn_switch page, 状态: the master and one row per worker (get_status every 3 s while the
 * tab is shown), the operations (reload, ±1 worker, restart, start), the live charts of the
 * last minutes (kept in the page) and the master's own history (get_history), when the panel
 * has loaded echarts. Adds methods to `gswitch`; its state is gswitch.status, charts, hcharts,
 * historySpan and historyAt.
 */
(function (window, $) {
  'use strict';
  var gswitch = window.gswitch;
  var util = gswitch.util;
  var esc = util.esc;
  var num = util.num;
  var mb = util.mb;
  var clock = util.clock;
  var duration = util.duration;
  var STATUS_POLL_MS = 3000;
  var HISTORY_MS = 5 * 60 * 1000;

  $.extend(gswitch, {
    bindStatus: function (root) {
      root.on('change', '.gswitch-status-site', function () {
        gswitch.status.site = $(this).val() || null;
        gswitch.resetStatus();
        gswitch.pollStatus();
      });
      root.on('click', '.gswitch-status-refresh', function () { gswitch.pollStatus(); });
      root.on('click', '.gswitch-op', function () { gswitch.control($(this).attr('data-op')); });
      // the body is redrawn every poll: remember which exit cards are open (the click comes
      // before the toggle, and 'toggle' does not bubble to a delegated handler)
      root.on('click', '.gswitch-exit-card > summary', function () {
        var card = $(this).parent();
        var opening = !card.prop('open');
        gswitch.status.open[card.attr('data-key')] = opening;
        // a stack ends with the innermost frames, where the time went: show those first
        if (opening) {
          setTimeout(function () {
            card.find('.gswitch-exit-stack').each(function () { this.scrollTop = this.scrollHeight; });
          }, 0);
        }
      });
      root.on('click', '.gswitch-hist-span', function () {
        gswitch.historySpan = Number($(this).attr('data-span'));
        gswitch.loadHistory(true);
      });
    },

    resetStatus: function () {
      gswitch.status.gen += 1;
      gswitch.status.inflight = false;
      gswitch.status.data = null;
      gswitch.status.hist = {site: gswitch.status.site, series: {}};
      gswitch.status.open = {};
      gswitch.disposeCharts();
      if (gswitch.root) {
        gswitch.root.find('.gswitch-status-body').empty();
        gswitch.root.find('.gswitch-exits-box').empty().removeData('exits');
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
        gswitch.addChartPoints(st.data);
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
    addChartPoints: function (data) {
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
      // a switched site that nothing starts at boot: 开机自启, enable
      if (managed && data.boot && data.boot.persistent === false) {
        ops += gswitch.opButton('enable_boot', 'btn_enable_boot', 'btn-default', false);
      }
      ops += '<span class="gswitch-updated c9">' + esc(gswitch.t('updated', {time: clock()})) + '</span></div>';
      html += ops;
      if (!managed && data.running) html += '<p class="c9">' + esc(gswitch.t('unmanaged_note')) + '</p>';
      var sat = data.saturation || {};
      var satText = sat.advice || '';
      var hints = [];
      for (var h = 0; h < (data.hints || []).length; h++) {
        // the saturation hint (queue, for how long, the advice) goes into the banner below
        if (sat.saturated && sat.advice && data.hints[h].indexOf(sat.advice) >= 0) satText = data.hints[h];
        else hints.push(data.hints[h]);
      }
      if (hints.length) {
        html += '<ul class="gswitch-hints">';
        for (var i = 0; i < hints.length; i++) html += '<li>' + esc(hints[i]) + '</li>';
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
        if (sat.busy_ratio !== null && sat.busy_ratio !== undefined) {
          kv.push(['m_busy_ratio', Math.round(sat.busy_ratio * 100) + '% (' + sat.busy_slots + ' / ' + sat.slots + ')']);
        }
        if (sat.listen) kv.push(['m_queue', sat.listen.queue + ' / ' + (sat.listen.backlog === null ? '-' : sat.listen.backlog)]);
        if (sat.saturated) {
          // "已饱和：…" / "Saturated: …" from the hint: its head in bold, else the badge
          var cut = satText.search(/：|: /);
          var head = cut > 0 ? satText.slice(0, cut) : gswitch.t('sat_badge');
          var rest = cut > 0 ? satText.slice(cut + (satText.charAt(cut) === '：' ? 1 : 2)) : satText;
          html += '<div class="gswitch-note gswitch-note-error gswitch-saturated"><b>' + esc(head) + '</b> ' +
            esc(rest) + '</div>';
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
      body.html(html);
      gswitch.renderExits(data.recent_exits || []);
      if (m) gswitch.renderCharts();
      else gswitch.disposeCharts();
      if (m && managed) gswitch.loadHistory(false);
      root.find('.gswitch-status-site').val(site);
    },

    /* The exit cards are redrawn only when the exits change, so that an opened card keeps
       its place in its stacks across polls (status.open keeps it open across a redraw). */
    renderExits: function (exits) {
      var box = gswitch.root.find('.gswitch-exits-box');
      var key = JSON.stringify(exits);
      if (box.data('exits') === key) return;
      box.html(gswitch.exitsHtml(exits)).data('exits', key);
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
        var key = x.pid + '-' + x.time;
        html += '<details class="' + cls + '" data-key="' + esc(key) + '"' + (gswitch.status.open[key] ? ' open' : '') +
          '><summary class="gswitch-exit-head">' + head +
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
      return cause && gswitch.has('cause_' + cause) ? gswitch.t('cause_' + cause) : (cause || '-');
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
        gswitch.charts[c].chart.setOption(gswitch.chartOption(tmax - 300000, tmax, '#888', series), true);
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
      gswitch.historySeq += 1; // an answer still on its way was for the charts just disposed
    },

    /* The master's history ring (get_history): fetched when the span changes, else every 30 s. */
    loadHistory: function (force) {
      var now = new Date().getTime();
      if (!force && gswitch.historyAt && now - gswitch.historyAt < 30000) return;
      var echarts = window.echarts;
      if (!echarts || typeof echarts.init !== 'function') return;
      gswitch.historyAt = now;
      var span = gswitch.historySpan || 3600;
      var seq = gswitch.historySeq + 1;
      gswitch.historySeq = seq;
      // a slow answer for the span clicked before must not overwrite the one clicked last
      gswitch.call('get_history', {site: gswitch.status.site, span: span}, function (data) {
        if (seq !== gswitch.historySeq || !gswitch.root) return;
        try { gswitch.renderHistory(data); } catch (e) { gswitch.historyAt = 0; }
      }, {loading: false, fail: function () { if (seq === gswitch.historySeq) gswitch.historyAt = 0; }});
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
      // every field the ring records: [title, [[series name, value of a point], ...]]
      function mbOf(b) { return b === null || b === undefined ? null : Math.round(b / 104857.6) / 10; }
      var charts = [
        ['hist_rps', [[gswitch.t('hist_rps'), function (p) { return p.rps; }]]],
        ['hist_latency', [['P50', function (p) { return p.p50; }], ['P95', function (p) { return p.p95; }],
          ['P99', function (p) { return p.p99; }]]],
        ['hist_busy', [['%', function (p) { return Math.round(p.busy_ratio * 1000) / 10; }]]],
        ['hist_queue', [[gswitch.t('hist_queue_n'), function (p) { return p.queue; }]]],
        ['hist_rss', [[gswitch.t('hist_rss_sum'), function (p) { return mbOf(p.rss_sum); }],
          [gswitch.t('hist_rss_max'), function (p) { return mbOf(p.rss_max); }],
          [gswitch.t('hist_rss_mean'), function (p) { return mbOf(p.rss_mean); }]]],
        ['hist_workers', [[gswitch.t('hist_workers_n'), function (p) { return p.workers; }],
          [gswitch.t('hist_exits_n'), function (p) { return p.exits; }]]]];
      html += '<div class="gswitch-chart-row">';
      for (var k = 0; k < charts.length; k++) {
        html += '<div class="gswitch-chart-cell gswitch-hist-cell"><div class="gswitch-chart-title c9" title="' +
          esc(gswitch.t(charts[k][0])) + '">' + esc(gswitch.t(charts[k][0])) +
          '</div><div class="gswitch-chart" data-hist="' + k + '"></div></div>';
      }
      for (var d = 0; d < (gswitch.hcharts || []).length; d++) {
        try { gswitch.hcharts[d].chart.dispose(); } catch (e) { /* replaced */ }
      }
      gswitch.hcharts = [];
      box.html(html + '</div>');
      var tmax = new Date().getTime();
      box.find('.gswitch-chart').each(function () {
        var lines = charts[Number($(this).attr('data-hist'))][1];
        var series = [];
        for (var s = 0; s < lines.length; s++) {
          var values = [];
          for (var j = 0; j < pts.length; j++) values.push([pts[j].t * 1000, lines[s][1](pts[j])]);
          series.push({name: lines[s][0], type: 'line', showSymbol: false, connectNulls: false,
            lineStyle: {width: 1.5}, data: values});
        }
        var chart = window.echarts.init(this);
        chart.setOption(gswitch.chartOption(tmax - span * 1000, tmax, '#666', series));
        gswitch.hcharts.push({chart: chart});
      });
    },

    /* A time chart from..to (ms) of the given series, in the panel's light or dark look; the
       window is fixed: with one sample echarts would otherwise pick a range of days. */
    chartOption: function (from, to, lightText, series) {
      var dark = gswitch.isDark();
      var text = dark ? '#aaa' : lightText;
      var line = dark ? 'rgba(255,255,255,.12)' : 'rgba(0,0,0,.08)';
      return {
        backgroundColor: 'transparent',
        animation: false,
        grid: {left: 36, right: 8, top: 8, bottom: 22},
        tooltip: {trigger: 'axis', confine: true},
        // a third of the dialog wide: three time labels fit, more ran into each other
        xAxis: {type: 'time', min: from, max: to, splitNumber: 3,
          axisLabel: {color: text, fontSize: 9, hideOverlap: true, formatter: '{HH}:{mm}'},
          axisLine: {lineStyle: {color: line}}, splitLine: {show: false}},
        yAxis: {type: 'value', min: 0, axisLabel: {color: text, fontSize: 9}, splitLine: {lineStyle: {color: line}}},
        series: series
      };
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
    }
  });
})(window, jQuery);
