"""The status tab's operating parts in Chromium, on a switched sandbox site with a past, in
both languages and both themes at once (four pages side by side, each polling the real
plugin through the dev panel):

- saturation: every slot of the site busy and connections waiting in its listen queue (a
  bounded load of sleeping requests through nginx): the saturated state and its advice;
- p50/p95/p99 for the site and for each worker;
- the history charts over a day injected into the master's ring with the conf's own writer
  (as tests/e2e/test_history.py does), and the 5 min / 1 h / 24 h choices: a click asks
  get_history for that span and redraws the charts over that window;
- the exit cards: a request that sleeps past the site's timeout gets its worker killed, and
  its card opens to the stack that names the view function (and stays open across polls);
- 设置: the memory limit and log rotation fields.

Every part is saved by the screenshot fixture, cropped to the part (docs/screenshots/ has a
curated set). blog.test is switched through the API (sync workers, a short timeout) and
rolled back in a finally. Waits are bounded waits for a UI state; nothing asserts a timing.
"""
import importlib.util
import math
import os
import re
import threading
import time

from tests.sandbox.checks import poll
from tests.sandbox.load import Load
from tests.sandbox.ops_load import run_task
from tests.ui.devpanel_page import open_plugin
from gunicorn_switch_core import records, stats_layout as L  # noqa: E402 (on sys.path: tests/conftest.py)

SITE = "blog.test"
TIMEOUT_S = 4  # the switched site's worker timeout: the sleeping view below outlives it
SLEEP_S = 2  # the load's requests: all slots busy, well inside the timeout
LOOKS = (("zh", "light"), ("zh", "dark"), ("en", "light"), ("en", "dark"))
HIST_CHARTS = 6  # req/s, latency, busy, queue, memory, workers/exits
WAIT = 60_000  # ms: four pages polling a busy 2-core machine
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")


def inject_day(conf_path, ring, now):
    """A day of records before ``now`` written into the site's ring by its conf's own writer
    (the last two steps are left to the running collector): a daily wave of traffic, a
    half-hour of queueing two hours ago, an exit now and then."""
    spec = importlib.util.spec_from_file_location("gsw_conf_ui", conf_path)
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    conf._HISTORY_PATH = str(ring)
    fd = conf._history_open()
    try:
        for k in range(L.HISTORY_SLOTS - 1, 2, -1):
            wave = 0.5 + 0.5 * math.sin(2 * math.pi * k / L.HISTORY_SLOTS)
            rps = 2 + 10 * wave
            queued = 700 <= k < 880  # 2 h ago, for half an hour
            p50 = 6 + 4 * wave + (30 if queued else 0)
            conf._history_write(fd, now - k * L.HISTORY_STEP, (
                int(rps * L.HISTORY_STEP), p50, p50 * 3, p50 * 5, min(1.0, 0.1 + wave * 0.6 + queued),
                (3 + k % 4) if queued else 0, 2, 1 if k % 700 == 0 else 0,
                (110 + int(20 * wave)) << 20, (58 + int(12 * wave)) << 20))
    finally:
        os.close(fd)


def open_status(page, url, lang, theme):
    from playwright.sync_api import expect

    qs = ["lang=en"] if lang == "en" else []
    if theme == "dark":
        qs.append("theme=dark")
    root = open_plugin(page, url + ("?" + "&".join(qs) if qs else ""))
    root.locator('.bt-w-menu p[data-tab="status"]').click()
    expect(root.locator(".gswitch-status-site")).to_have_value(SITE)
    return root


def chart_window(page):
    """[x-axis max - min in seconds] of each history chart, as echarts holds it."""
    return page.evaluate(
        "Array.prototype.map.call(document.querySelectorAll('.gswitch-history .gswitch-chart'),"
        " function (el) { var o = echarts.getInstanceByDom(el).getOption().xAxis[0];"
        " return (o.max - o.min) / 1000; })")


def chart_points(page):
    """[[points of each series] of each history chart], as echarts holds them."""
    return page.evaluate(
        "Array.prototype.map.call(document.querySelectorAll('.gswitch-history .gswitch-chart'),"
        " function (el) { return echarts.getInstanceByDom(el).getOption().series.map("
        " function (s) { return s.data.length; }); })")


def pick_span(page, root, span):
    """Click a span button: get_history is asked for that span and every chart is redrawn
    (the old chart elements go) over that window."""
    from playwright.sync_api import expect

    page.evaluate("jQuery('.gswitch-history .gswitch-chart').attr('data-old', '1')")
    with page.expect_request(lambda r: "s=get_history" in r.url and
                             "span=%d" % span in (r.post_data or "")):
        root.locator('.gswitch-hist-span[data-span="%d"]' % span).click()
    expect(root.locator('.gswitch-hist-span.btn-success')).to_have_attribute("data-span", str(span))
    expect(root.locator(".gswitch-history .gswitch-chart canvas")).to_have_count(HIST_CHARTS)
    expect(root.locator(".gswitch-history .gswitch-chart[data-old]")).to_have_count(0)
    assert chart_window(page) == [span] * HIST_CHARTS


def _cut_short(sandbox, out):
    """The sleeping request its worker is killed for: an error answer is the expected end."""
    try:
        out["status"] = sandbox.get(SITE, "/slow/?s=%d" % (TIMEOUT_S * 5), timeout=60)[0]
    except OSError as e:
        out["status"] = type(e).__name__


def test_status_parts_in_both_languages_and_themes(pages, devpanel, sandbox, screenshot):
    from playwright.sync_api import expect

    server, url, token = devpanel
    run_task("switch", SITE, workers=2, threads=1, worker_class="sync", timeout=TIMEOUT_S)
    load = slow = None
    try:
        rec = records.load(SITE)
        ring = os.path.join(rec["stats_dir"], L.HISTORY_NAME)
        poll(lambda: os.path.exists(ring), "the collector's ring", deadline=30)
        inject_day(rec["gunicorn_conf"], ring, time.time())
        for _ in range(10):  # the last minute's percentiles, per worker too
            assert sandbox.get(SITE, "/slow/?s=0.02")[0] == 200
        tabs = {}
        for pg, (lang, theme) in zip(pages(len(LOOKS)), LOOKS):
            pg.set_default_timeout(WAIT)
            pg.set_viewport_size({"width": 1280, "height": 2000})  # the whole dialog in view
            tabs[lang, theme] = (pg, open_status(pg, url, lang, theme))

        # -- percentiles, for the site and per worker; the history charts --------------------
        for (lang, theme), (pg, root) in tabs.items():
            pct = re.compile(r"^[\d.]+ / [\d.]+ / [\d.]+ ms$")
            expect(root.locator(".gswitch-workers tr.gswitch-worker")).to_have_count(2)
            expect(root.locator(".gswitch-master-item", has_text="P95")).to_contain_text(" ms")
            cells = root.locator(".gswitch-workers td.gswitch-pct")
            pg.wait_for_function("Array.prototype.every.call(document.querySelectorAll("
                                 "'.gswitch-workers td.gswitch-pct'), function (td) {"
                                 " return / ms$/.test(td.textContent); })")
            assert all(pct.match(t) for t in cells.all_inner_texts()), cells.all_inner_texts()
            expect(root.locator(".gswitch-hist-span")).to_have_count(3)
            expect(root.locator(".gswitch-history .gswitch-chart canvas")).to_have_count(HIST_CHARTS)
            assert chart_window(pg) == [3600] * HIST_CHARTS
            pick_span(pg, root, 86400)
            # the injected day, folded to a chart's worth, in every series of every chart
            counts = chart_points(pg)
            assert [len(c) for c in counts] == [1, 3, 1, 1, 3, 2], counts  # RSS: all, largest, per worker
            assert all(300 <= n <= 360 for c in counts for n in c), counts
            screenshot(pg, "operate-history-24h-%s-%s" % (lang, theme),
                       root.locator(".gswitch-history"))
            pick_span(pg, root, 300)

        # -- saturation: both slots busy, connections queued --------------------------------
        slow = {}
        killer = threading.Thread(target=_cut_short, args=(sandbox, slow))
        killer.start()
        load = Load(sandbox.nginx_port, sandbox.sites[SITE].domain,
                    paths=["/slow/?s=%d" % SLEEP_S], concurrency=6, max_seconds=90,
                    timeout=30).start()
        for (lang, theme), (pg, root) in tabs.items():
            sat = root.locator(".gswitch-saturated")
            expect(sat).to_be_visible()
            expect(sat.locator("b")).to_have_text("已饱和" if lang == "zh" else "Saturated")
            # the queue, for how long, and the advice: said once, in the banner
            expect(sat).to_contain_text(re.compile("监听队列|listen queue"))
            expect(sat).to_contain_text(re.compile("建议|请|Add |Not enough|more workers"))
            expect(root.locator(".gswitch-hints")).not_to_contain_text(
                re.compile("已饱和|Saturated"))
            expect(root.locator(".gswitch-master-item", has_text=re.compile("监听队列|Listen queue"))
                   ).not_to_contain_text(re.compile(r"\b0 /"))
            screenshot(pg, "operate-saturated-%s-%s" % (lang, theme),
                       root.locator(".gswitch-status-body"))
        load.stop()
        load = None

        # -- the timeout exit: its card opens to the stack of the view -------------------------
        killer.join(60)
        for (lang, theme), (pg, root) in tabs.items():
            card = root.locator(".gswitch-exits details.gswitch-exit-card").first
            expect(card).to_contain_text("GET /slow/")
            expect(card.locator(".gswitch-exit-cause")).to_have_text(
                "超时" if lang == "zh" else "timeout")
            card.locator("summary").click()
            expect(card.locator(".gswitch-exit-stack").first).to_contain_text("in slow")
            expect(card.locator(".gswitch-exit-stack").first).to_contain_text("time.sleep")
            screenshot(pg, "operate-exit-%s-%s" % (lang, theme), root.locator(".gswitch-exits"))
        pg, root = tabs["zh", "light"]
        # a poll later (every 3 s) the card is still open
        updated = root.locator(".gswitch-updated").inner_text()
        expect(root.locator(".gswitch-updated")).not_to_have_text(updated)
        expect(root.locator(".gswitch-exits details.gswitch-exit-card").first
               ).to_have_attribute("open", "")

        # -- 设置: the memory limit and log rotation of the site -----------------------------
        for (lang, theme), (pg, root) in tabs.items():
            root.locator('.bt-w-menu p[data-tab="settings"]').click()
            rot = root.locator(".gswitch-rotation")
            expect(rot.locator(".gswitch-rot-site")).to_have_value(SITE)
            expect(rot.locator('.gswitch-rot[name="max_mb"]')).to_have_value("100")
            expect(rot.locator('.gswitch-rot[name="keep"]')).to_have_value("7")
            expect(rot.locator('.gswitch-rot[name="max_age_hours"]')).to_have_value("24")
            expect(rot.locator('.gswitch-rot[name="memory_limit_mb"]')).to_have_value("0")
            screenshot(pg, "operate-settings-%s-%s" % (lang, theme), rot)
            if lang == "en":  # nothing left in Chinese in the English parts
                for part in ('.gswitch-pane[data-pane="status"]', ".gswitch-rotation"):
                    text = root.locator(part).inner_text()
                    assert CJK.findall(text) == [], (part, text)
        for look, (pg, _) in tabs.items():
            assert pg.errors == [], (look, pg.errors)
        assert slow["status"] != 200, slow  # the sleeping request was cut short by its timeout
    finally:
        if load is not None:
            load.stop()
        run_task("rollback", SITE)
    assert sandbox.get(SITE, "/")[0] == 200
