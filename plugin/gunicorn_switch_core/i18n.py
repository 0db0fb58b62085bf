"""Messages for the page, Chinese first and English for aaPanel.

The language follows GUNICORN_SWITCH_LANG when set, else the panel's language setting
(aaPanel keeps it in BTPanel/languages/settings.json), else Chinese.
"""
import json
import os

from . import paths

MESSAGES = {
    "missing_site": ("请选择站点", "No site given"),
    "bad_site": ("站点名不合法：{name}", "Invalid site name: {name}"),
    "unknown_site": ("面板中没有这个 Python 站点：{name}", "No such Python site in the panel: {name}"),
    "bad_value": ("参数 {name} 的值不合法", "Invalid value for {name}"),
    "unknown_method": ("不支持的操作：{name}", "Unsupported action: {name}"),
    "internal_error": ("内部错误（编号 {ref}），详情见日志 {log}",
                       "Internal error (ref {ref}); details in {log}"),
}


def lang():
    v = os.environ.get("GUNICORN_SWITCH_LANG")
    if v:
        return "en" if v.lower().startswith("en") else "zh"
    try:
        with open(paths.host(paths.PANEL + "/BTPanel/languages/settings.json")) as fh:
            default = json.load(fh).get("default", "")
        return "en" if str(default).lower().startswith("en") else "zh"
    except (OSError, ValueError, AttributeError):
        return "zh"


def t(key, **kw):
    zh, en = MESSAGES[key]
    return (en if lang() == "en" else zh).format(**kw)
