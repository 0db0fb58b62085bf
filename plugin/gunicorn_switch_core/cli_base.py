"""What every command of the command line shares: exit codes, the API call with the CLI's
exit codes, and output."""
import json
import sys

from . import api, i18n, records

OK, REFUSED, BAD, FAILED, INTERNAL, INTERRUPTED = 0, 1, 2, 3, 4, 130


class Exit(Exception):
    """Stop with ``code``; ``message`` goes to stderr (and into the JSON when asked)."""

    def __init__(self, code, message=""):
        Exception.__init__(self, message)
        self.code = code
        self.message = message


# -- plumbing -----------------------------------------------------------------------------

def call(method, **args):
    """api.invoke with the CLI's exit codes: a malformed or unknown site is bad input, any
    other refusal of the core (busy, already switched, cannot be switched) is a refusal."""
    try:
        return api.invoke(method, {k: str(v) for k, v in args.items() if v is not None})
    except api.BadSite as e:
        raise Exit(BAD, str(e))
    except api.BadInput as e:
        raise Exit(REFUSED, str(e))


def print_json(data):
    try:
        text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
        sys.stdout.write(text + "\n")
    except UnicodeEncodeError:  # a terminal that is not UTF-8, or bytes nginx kept as they were
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def err(text):
    sys.stderr.write(text.rstrip("\n") + "\n")
    sys.stderr.flush()


def site_name(name):
    if not records.valid_site(name):
        raise Exit(BAD, i18n.t("bad_site", name=name[:80]))
    return name


def table(rows, headers):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    for r in [headers] + rows:
        print("  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip())


# -- sites, plan ----------------------------------------------------------------------------

def server_of(site):
    for s in call("get_sites"):
        if s["site"] == site:
            return s
    raise Exit(BAD, i18n.t("unknown_site", name=site))


def step_title(step):
    return step.get("title_en") if i18n.lang() == "en" else step.get("title")
