"""The page's language inside BaoTa 11 (issue 13 §2).

BaoTa 11 shows a plugin inside <iframe src="/software">, a document with <html lang="en"> and
the title 插件管理; neither may make the page English. The backend (the panel's language
setting; the sandbox has none, as BaoTa) decides, ?lang= overrides. The dev panel runs as a
process of the sandbox's panel Python (3.7, as BaoTa 11; tests/ui/conftest.py). Every tab's
visible text is checked for strings of the other language.
"""
import re

import pytest

TABS = ["sites", "status", "logs", "settings", "about"]
ENDONYMS = {"中文", "English"}
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")


@pytest.fixture
def bt11(devpanel):
    return devpanel[1]


def visible_text_of_every_tab(page, url):
    from playwright.sync_api import expect

    page.goto(url)
    frame = page.frame_locator("#dp-software")
    root = frame.locator(".layui-layer-page .gswitch").last
    expect(root.locator(".bt-w-menu")).to_be_visible()
    expect(root).to_have_attribute("data-gswitch-ready", "1")
    expect(root.locator(".gswitch-sites tbody tr").first).not_to_have_text(
        re.compile("正在加载|Loading"))
    expect(frame.locator(".layui-layer-msg")).to_have_count(0)
    texts = [frame.locator(".layui-layer-page .layui-layer-title").last.inner_text()]
    for tab in TABS:
        root.locator('.gswitch-menu p[data-tab="%s"]' % tab).click()
        pane = root.locator('.gswitch-pane[data-pane="%s"]' % tab)
        expect(pane).to_be_visible()
        texts.append(root.locator(".gswitch-menu").inner_text())
        texts.append(pane.inner_text())
    dictionaries = page.frames[1].evaluate("window.gswitch.i18n")
    lang = root.get_attribute("lang")
    # The language picker names each language in itself (中文 / English), as pickers do.
    lines = [ln for ln in "\n".join(texts).splitlines() if ln.strip() not in ENDONYMS]
    return "\n".join(lines), dictionaries, lang


def foreign_strings(text, own, other):
    """Strings of the ``other`` language's dictionary (not also ``own``'s) found in ``text``."""
    mine = set(own.values())
    found = []
    for key, value in other.items():
        # short words (a unit, "PID") may be the same or part of a site's name: skip them
        if value in mine or len(value) < 6 or "{" in value:
            continue
        if value in text:
            found.append((key, value))
    return found


def test_inside_baota11_iframe_the_page_is_chinese(page, bt11, screenshot):
    text, i18n, lang = visible_text_of_every_tab(page, bt11 + "bt11")
    frame = page.frames[1]
    assert frame.evaluate("document.documentElement.lang") == "en"
    assert frame.evaluate("document.title") == "插件管理"
    assert lang == "zh-CN"
    assert "站点" in text and "刷新" in text
    assert foreign_strings(text, i18n["zh"], i18n["en"]) == []
    screenshot(page, "bt11-iframe-zh")
    assert page.errors == []


def test_lang_en_makes_it_entirely_english(page, bt11, screenshot):
    text, i18n, lang = visible_text_of_every_tab(page, bt11 + "bt11?lang=en")
    assert lang == "en"
    assert "Sites" in text and "Refresh" in text
    assert CJK.findall(text) == [], text
    assert foreign_strings(text, i18n["en"], i18n["zh"]) == []
    screenshot(page, "bt11-iframe-en")
    assert page.errors == []
