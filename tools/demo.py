"""`make demo`: a Baota-shaped sandbox with three Django sites on uWSGI, and the dev panel.

Open the printed URL, click 设置 on Gunicorn 切换助手, and switch a site. Ctrl-C stops
everything this started (nginx, supervisord, uWSGI, Gunicorn, the dev panel), by PID.
"""
import importlib.util
import signal
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.sandbox.host import Sandbox  # noqa: E402


def load_devpanel():
    spec = importlib.util.spec_from_file_location("devpanel_server", REPO / "tools/devpanel/server.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    print("demo: building the sandbox (first run builds the wheel cache: a minute or two)...")
    sb = Sandbox().build()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    server = None
    try:
        sb.start()
        sb.activate()
        devpanel = load_devpanel()
        server, url, token = devpanel.start(str(sb.plugin_dir), str(sb.root))
        print()
        print("  dev panel:  %s" % url)
        print("  sandbox:    %s (GUNICORN_SWITCH_ROOT)" % sb.root)
        for name, site in sb.sites.items():
            print("  site %-10s curl -H 'Host: %s' http://127.0.0.1:%d/   (%s)"
                  % (name, site.domain, sb.nginx_port, site.spec.shape))
        print("\n  Ctrl-C stops everything.")
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        print("\ndemo: stopping...")
        if server is not None:
            devpanel.stop(server)
        sb.destroy()
        print("demo: stopped.")


if __name__ == "__main__":
    main()
