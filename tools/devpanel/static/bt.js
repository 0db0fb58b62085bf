/* A small `bt` global shaped like the panel's (utils.min.js / public.js), over layer. */
(function (window, $) {
  'use strict';
  var bt = window.bt || {};

  bt.get_cookie = function (key) {
    var parts = document.cookie ? document.cookie.split('; ') : [];
    for (var i = 0; i < parts.length; i++) {
      var kv = parts[i].split('=');
      if (decodeURIComponent(kv[0]) === key) return decodeURIComponent(kv.slice(1).join('='));
    }
    return null;
  };
  bt.set_cookie = function (key, value) {
    document.cookie = encodeURIComponent(key) + '=' + encodeURIComponent(value) + '; path=/';
  };

  // bt.msg({msg, status, icon, time}) or bt.msg(text)
  bt.msg = function (config) {
    if (typeof config !== 'object') config = {msg: String(config), icon: 0};
    var icon = config.icon !== undefined ? config.icon : (config.status ? 1 : 2);
    var time = config.time !== undefined ? config.time : (config.status ? 2000 : 5000);
    return layer.msg(config.msg, {icon: icon, time: time, shade: config.shade || 0.3, shadeClose: true});
  };

  // bt.confirm({title, msg}, yes, cancel)
  bt.confirm = function (config, yes, cancel) {
    return layer.confirm(config.msg, {title: config.title || false, icon: 3, closeBtn: 2},
      function (index) { if (yes) yes(index); }, function () { if (cancel) cancel(); });
  };

  bt.open = function (config) {
    return layer.open($.extend({closeBtn: 2, shadeClose: false, shade: 0.3}, config));
  };

  bt.load = function (msg) {
    return layer.msg(msg || '正在处理，请稍后...', {icon: 16, time: 0, shade: 0.3});
  };

  // The CSRF header for every jQuery request, as utils.min.js / public.js install it.
  var token = $('#request_token_head').attr('token');
  $.ajaxSetup({headers: {'x-http-token': token}});

  bt.soft = bt.soft || {};
  // As bt.soft.set_lib_config: permission probe, fetch index.html, open it in a page layer.
  bt.soft.set_lib_config = function (name, title, version) {
    var loading = bt.load();
    $.post('/plugin?action=a&name=' + name, {}, function (rdata) {
      if (rdata && rdata.status === false) {
        layer.close(loading);
        return bt.msg(rdata);
      }
      // The panel answers with the file itself, or with a JSON error when there is none.
      $.ajax({
        url: '/plugin?action=getConfigHtml', type: 'POST', dataType: 'text',
        data: {name: name, version: version},
        success: function (html) {
          var error = null;
          if (/^\s*\{/.test(html)) {
            try { error = JSON.parse(html); } catch (e) { error = null; }
          }
          if (error && error.status === false) {
            layer.close(loading);
            return bt.msg(error);
          }
          // As the panel's software.js: libraries a page needs are loaded only when its HTML
          // has their trigger string; the dialog opens once they are in (or failed to load).
          loadLibs(html, function () {
            layer.close(loading);
            openPage(name, title, html);
          });
        },
        error: function (xhr) {
          layer.close(loading);
          bt.msg({msg: 'getConfigHtml: HTTP ' + xhr.status, status: false});
        }
      });
    }, 'json');
  };

  var TRIGGERS = [{text: 'echarts.init', global: 'echarts', src: '/static/js/echarts.min.js'}];

  function loadLibs(html, done) {
    var todo = [];
    for (var i = 0; i < TRIGGERS.length; i++) {
      if (html.indexOf(TRIGGERS[i].text) !== -1 && !window[TRIGGERS[i].global]) todo.push(TRIGGERS[i].src);
    }
    (function next() {
      if (!todo.length) return done();
      var script = document.createElement('script');
      script.src = todo.shift();
      script.onload = script.onerror = next;
      document.head.appendChild(script);
    })();
  }

  function openPage(name, title, html) {
    bt.open({
      type: 1, area: '700px', shift: 5, skin: 'bt-plugin-layer',
      title: '<img style="width:24px;margin-right:5px;margin-left:-10px;margin-top:-3px" ' +
        'src="/static/img/soft_ico/ico-' + name + '.png" />' + title,
      content: html.replace('"javascript/text"', '"text/javascript"')
    });
  }

  window.bt = bt;
})(window, jQuery);
