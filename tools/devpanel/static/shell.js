/* The dev panel's 软件商店 list: labels in the panel's language, and the 设置 button. */
(function ($) {
  'use strict';
  var en = /^en/i.test(document.documentElement.lang);
  var words = {
    store: 'App Store', name: 'Name', ps: 'Description', version: 'Version', op: 'Operate',
    title: 'Gunicorn Switch', setting: 'Setting',
    desc: 'Move a Django site from uWSGI to Gunicorn without downtime'
  };
  if (en) {
    $('[data-dp]').each(function () {
      var key = $(this).attr('data-dp');
      if (words[key]) $(this).text(words[key]);
    });
  }
  $('#dp-soft-list').on('click', '.dp-setting', function () {
    var row = $(this).closest('tr');
    bt.soft.set_lib_config($(this).attr('data-name'), row.find('[data-dp=title]').text(),
      $(this).attr('data-version'));
  });
})(jQuery);
