"""Settings tried against the generated gunicorn_conf.py: appended lines, and the nginx shape
the variant needs (bench/variants.py's wrk A/B, bench/run.py's side-by-side page rows).
``{sock}`` is filled with a unix socket path by the caller that uses it."""

# name -> (lines appended to the generated conf, nginx shape)
VARIANTS = {
    "gen": ("", "bare"),
    "noaccess": ("accesslog = None\n", "bare"),
    "h1c": ("http_parser = 'fast'\n", "bare"),
    "h1c_noaccess": ("http_parser = 'fast'\naccesslog = None\n", "bare"),
    "unix": ("bind = ['unix:{sock}']\n", "unix"),
    "upstream_ka": ("keepalive = 75\n", "keepalive"),
    "upstream_ka_noaccess": ("keepalive = 75\naccesslog = None\n", "keepalive"),
    "unix_noaccess": ("bind = ['unix:{sock}']\naccesslog = None\n", "unix"),
    "threads4": ("threads = 4\n", "bare"),
    "sync": ("worker_class = 'sync'\nthreads = 1\n", "bare"),
    "sync4": ("worker_class = 'sync'\nthreads = 1\nworkers = 4\n", "bare"),
}

# What the page rows of `make bench` try beside the generated conf, in words: the choices the
# plan page offers that could win on the realistic page (bench/NOTES.md has the rest).
PAGE_VARIANTS = (
    ("noaccess", "Gunicorn's access log off"),
    ("sync", "sync workers, one thread each (half the requests at once)"),
    ("sync4", "sync workers = uWSGI's processes x threads (4 processes)"),
)


def one_line(extra):
    """A variant's appended lines as the bench's logs and tables show them."""
    return extra.strip().replace("\n", "; ")
