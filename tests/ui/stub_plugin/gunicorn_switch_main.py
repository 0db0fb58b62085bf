"""A stand-in for the plugin's backend, for the UI tests when no sandbox is available.

Same contract as the real class (design.md): every method returns {status, msg, data}.
"""


class gunicorn_switch_main:
    SITES = [
        {"site": "blog.example.com", "server": "uwsgi", "manager": "uwsgi-ini",
         "project_path": "/www/wwwroot/blog.example.com", "venv": "/www/server/pyporject_evn/blog",
         "python": "3.11", "uwsgi_config": "/www/wwwroot/blog.example.com/uwsgi.ini",
         "nginx_conf": "/www/server/panel/vhost/nginx/blog.example.com.conf",
         "upstream": "127.0.0.1:8001", "managed_by_plugin": False},
        {"site": "shop.example.com", "server": "gunicorn", "manager": "supervisor",
         "project_path": "/www/wwwroot/shop.example.com", "venv": "", "python": "3.11",
         "uwsgi_config": "", "nginx_conf": "/www/server/panel/vhost/nginx/shop.example.com.conf",
         "upstream": "unix:/www/wwwroot/shop.example.com/gunicorn.sock", "managed_by_plugin": True},
        {"site": "old.example.com", "server": "stopped", "manager": "", "project_path": "",
         "venv": "", "python": "", "uwsgi_config": "", "nginx_conf": "", "upstream": "",
         "managed_by_plugin": False},
    ]

    def get_sites(self, get):
        return {"status": True, "msg": "", "data": self.SITES}

    def plan(self, get):
        site = get.get("site", "")
        if site != "blog.example.com":
            return {"status": False, "msg": "unknown site: " + site, "data": None}
        return {"status": True, "msg": "", "data": {
            "gunicorn_conf": "bind = '127.0.0.1:18001'\nworkers = 4\nthreads = 2\n",
            "nginx_diff": "--- a/blog.example.com.conf\n+++ b/blog.example.com.conf\n@@ -10 +10 @@\n"
                          "-        uwsgi_pass 127.0.0.1:8001;\n"
                          "+        proxy_pass http://127.0.0.1:18001;\n",
            "steps": ["install gunicorn", "write gunicorn_conf.py", "start on 127.0.0.1:18001",
                      "health check", "switch nginx", "stop uWSGI"],
            "warnings": [{"option": "harakiri", "msg": "mapped to timeout = 30"}],
            "settings": {"workers": 4, "threads": 2, "bind": "127.0.0.1:18001"},
        }}

    def echo(self, get):
        return {"status": True, "msg": "", "data": dict(vars(get))}

    def boom(self, get):
        raise RuntimeError("boom")

    def _private(self, get):
        return {"status": True, "msg": "private", "data": None}
