/*
 * gunicorn_switch page, the switch: the plan dialog (options, summary, warnings, steps, the
 * gunicorn_conf.py and the nginx diff, made again when an option changes), then the switch or
 * rollback task's dialog, polled until it ends. A task's id is kept in localStorage per site,
 * so that a dialog closed (or a page reloaded) while it runs shows it again.
 * Adds methods to `gswitch` (gunicorn_switch.js); its state is gswitch.plan and gswitch.task.
 */
(function (window, $) {
  'use strict';
  var gswitch = window.gswitch;
  var util = gswitch.util;
  var esc = util.esc;
  var TASK_KEY = 'gswitch_task_';
  var TASK_POLL_MS = 1000;

  $.extend(gswitch, {
    bindSwitch: function (root) {
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
    },

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
      // the worker classes the backend accepts (plan.WORKER_CLASSES), and the site's own
      var classes = (data.worker_classes || []).slice(0);
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

    // What uWSGI ran besides the app (reload files, crons, daemons) and where the switch puts it;
    // a boot entry the switch leaves as it is has no "where", only why.
    carriedHtml: function (items) {
      if (!items.length) return '';
      var html = '<h4>' + esc(gswitch.t('plan_carried')) + '</h4><div class="divtable mb15">' +
        '<table class="table gswitch-carried"><tbody>';
      for (var i = 0; i < items.length; i++) {
        var c = items[i];
        html += '<tr><td>' + esc(gswitch.t('carried_' + c.kind)) + '</td><td class="gswitch-mono">' +
          esc(c.option + ' = ' + c.value) + '</td><td>' +
          (c.where ? esc(gswitch.t('carried_where')) + ' ' + esc(c.where) + '<br>' : '') +
          '<span class="c9">' + esc(c.detail || '') + '</span></td></tr>';
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
      var raw = util.stored(TASK_KEY + site);
      if (!raw) return null;
      try {
        var v = JSON.parse(raw);
        return v && v.id ? v : null;
      } catch (e) { return null; }
    },

    saveTask: function (site, id, kind) {
      util.store(TASK_KEY + site, id ? JSON.stringify({id: id, kind: kind}) : null);
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
        else if (s.started && s.state === 'running') took = util.clock(s.started);
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
    }
  });
})(window, jQuery);
