"""A small but real Django project, shaped like `django-admin startproject` output.

Views cover what a switch must keep working: a plain page, a page that reads sqlite, a slow
(I/O-waiting) page, a page that echoes what Django sees of the proxy (scheme, host, client
address), a CSRF-protected form, static files, and a typical list page (`/page/`: a template
that extends a base, a loop over 50 rows read through the ORM from sqlite).
"""
import sqlite3
from pathlib import Path

MANAGE = '''#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{name}.settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
'''

SETTINGS = '''from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "sandbox-only-not-secret-{name}"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "{name}",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
ROOT_URLCONF = "{name}.urls"
TEMPLATES = [{{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {{"context_processors": ["django.template.context_processors.request"]}},
}}]
WSGI_APPLICATION = "{name}.wsgi.application"
DATABASES = {{
    "default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}}
}}
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static"
# Behind nginx: trust its X-Forwarded-Proto, as a Baota site with SSL would.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = ["http://*.test", "https://*.test"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
'''

URLS = '''import json
import os
import sqlite3
import time

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.urls import path


def hello(request):
    return HttpResponse("hello from {name}\\n", content_type="text/plain")


def db(request):
    con = sqlite3.connect(str(settings.BASE_DIR / "db.sqlite3"))
    try:
        con.execute("create table if not exists hits (n integer)")
        rows = con.execute("select count(*) from hits").fetchone()[0]
    finally:
        con.close()
    return HttpResponse("rows=%d\\n" % rows, content_type="text/plain")


def slow(request):
    time.sleep(float(request.GET.get("s", "0.2")))
    return HttpResponse("slept\\n", content_type="text/plain")


def whoami(request):
    return JsonResponse({{
        "scheme": request.scheme,
        "host": request.get_host(),
        "remote_addr": request.META.get("REMOTE_ADDR"),
        "forwarded_for": request.META.get("HTTP_X_FORWARDED_FOR"),
        "script_name": request.META.get("SCRIPT_NAME"),
        "server": request.META.get("SERVER_SOFTWARE", ""),
        "pid": os.getpid(),
    }})


def form(request):
    if request.method == "POST":
        return HttpResponse("posted %s\\n" % request.POST.get("v", ""), content_type="text/plain")
    return JsonResponse({{"csrf": get_token(request)}})


def page(request):
    from django.shortcuts import render

    from .models import Item
    items = list(Item.objects.order_by("-created", "id")[:50])
    return render(request, "catalog/list.html", {{
        "title": "Catalogue", "items": items, "total": sum(i.price for i in items)}})


def boom(request):
    raise RuntimeError("deliberate error")


urlpatterns = [
    path("", hello),
    path("db/", db),
    path("slow/", slow),
    path("whoami/", whoami),
    path("form/", form),
    path("boom/", boom),
    path("page/", page, name="page"),
]
'''

WSGI = '''import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{name}.settings")
application = get_wsgi_application()
'''

ASGI = '''import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{name}.settings")
application = get_asgi_application()
'''

MODELS = '''from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=100)
    description = models.TextField()
    price = models.DecimalField(max_digits=8, decimal_places=2)
    created = models.DateTimeField()
    in_stock = models.BooleanField(default=True)

    class Meta:
        db_table = "catalog_item"
'''

BASE_HTML = '''<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{% block title %}}{name}{{% endblock %}}</title>
<link rel="stylesheet" href="/static/css/app.css"></head>
<body><header><nav><a href="{{% url 'page' %}}">{name}</a> | {{{{ request.path }}}}</nav></header>
<main>{{% block content %}}{{% endblock %}}</main>
<footer>{{% block footer %}}{{{{ items|length }}}} items{{% endblock %}}</footer></body></html>
'''

LIST_HTML = '''{{% extends "catalog/base.html" %}}
{{% block title %}}{{{{ title }}}} - {{{{ block.super }}}}{{% endblock %}}
{{% block content %}}<h1>{{{{ title|upper }}}}</h1>
<table>{{% for item in items %}}
<tr class="{{% cycle 'odd' 'even' %}}{{% if not item.in_stock %}} out{{% endif %}}">
<td>{{{{ forloop.counter }}}}</td><td>{{{{ item.name|title }}}}</td>
<td>{{{{ item.description|truncatewords:8 }}}}</td><td>{{{{ item.price|floatformat:2 }}}}</td>
<td>{{{{ item.created|date:"Y-m-d H:i" }}}}</td></tr>{{% empty %}}<tr><td>none</td></tr>{{% endfor %}}
</table><p>total {{{{ total|floatformat:2 }}}}</p>{{% endblock %}}
'''

CSS = "/* static file of {name} */\nbody {{ font-family: sans-serif; }}\n"


def make_project(dest, name):
    """Write a Django project named ``name`` into ``dest`` (created); returns ``dest``.

    Static files are written straight into STATIC_ROOT (what `collectstatic` would leave),
    so no Django command has to run to build the sandbox.
    """
    dest = Path(dest)
    pkg = dest / name
    pkg.mkdir(parents=True, exist_ok=True)
    files = {
        dest / "manage.py": MANAGE,
        pkg / "__init__.py": "",
        pkg / "settings.py": SETTINGS,
        pkg / "urls.py": URLS,
        pkg / "wsgi.py": WSGI,
        pkg / "asgi.py": ASGI,
        pkg / "models.py": MODELS,
        pkg / "templates" / "catalog" / "base.html": BASE_HTML,
        pkg / "templates" / "catalog" / "list.html": LIST_HTML,
        dest / "static" / "css" / "app.css": CSS,
    }
    for p, text in files.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text.format(name=name))
    _catalog(dest / "db.sqlite3")
    return dest


def _catalog(db):
    """The list page's 50 rows, written with sqlite3 (what `migrate` and a fixture would
    leave), so no Django command runs to build the sandbox."""
    con = sqlite3.connect(str(db))
    try:
        con.execute("create table if not exists catalog_item (id integer primary key "
                    "autoincrement, name varchar(100) not null, description text not null, "
                    "price decimal not null, created datetime not null, in_stock bool not null)")
        if not con.execute("select count(*) from catalog_item").fetchone()[0]:
            con.executemany(
                "insert into catalog_item (name, description, price, created, in_stock) "
                "values (?, ?, ?, ?, ?)",
                [("item number %d" % i, "a product described in a few more words than "
                  "the list shows, number %d of the catalogue" % i, "%d.%02d" % (i * 3, i),
                  "2026-11-%02d 10:%02d:00" % (1 + i % 28, i), i % 7 != 0) for i in range(60)])
        con.commit()
    finally:
        con.close()
