"""The shapes of the data the core passes around: the API's arguments and answers, a plan,
a switch's record, a task. For mypy (`make lint`) and for the reader.

The panel runs the core on Python 3.7, which has no ``typing.TypedDict``: the shapes exist
only while type checking. Modules name them in annotations, as strings or under
``from __future__ import annotations``, and import this module under ``TYPE_CHECKING``.
"""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, TypedDict  # novermin (type checking only)

    from typing_extensions import NotRequired  # novermin (type checking only)

    # What a panel call carries: every value a string (docs/ARCHITECTURE.md, facts: panel
    # envelope).
    Args = Dict[str, str]

    class Reply(TypedDict):
        """Every API method's answer."""
        status: bool
        msg: str
        data: Any

    class StepView(TypedDict):
        name: str
        title: str
        title_en: str

    class Plan(TypedDict):
        """What plan.make_plan decided; the switch applies exactly this (plans.py keeps it
        by id with the digest of its inputs)."""
        site: str
        inputs: Dict[str, Any]
        digest: str
        gunicorn_conf: str
        gunicorn_conf_path: str
        nginx_diff: List[Dict[str, Any]]
        nginx_files: Dict[str, str]
        steps: List[StepView]
        warnings: List[Dict[str, Any]]
        carried: List[Dict[str, Any]]
        blockers: List[Dict[str, Any]]
        settings: Dict[str, Any]
        bind: str
        manager: str
        uwsgi_manager: str
        uwsgi_manager_detail: Optional[str]
        uwsgi_pid: int
        uwsgi_ports: List[int]
        uwsgi_cmdline: List[str]
        uwsgi_cwd: Optional[str]
        uwsgi_config: Optional[str]
        venv: str
        project_path: str
        python: Optional[str]
        gunicorn_installed: Optional[str]
        gunicorn_version: str
        runtime_dir: str
        stats_dir: str
        log_dir: str
        domain: str
        nginx_addr: str
        baseline_status: int
        drain_timeout: int
        uwsgi_environ: Dict[str, str]
        user: str
        pip_user: Optional[str]
        uwsgi_uid: Optional[int]
        uwsgi_exe: Optional[str]
        uwsgi_logs: List[str]
        options: Dict[str, Any]
        wsgi_app: Optional[str]
        boot: Dict[str, Any]  # what starts the site at boot, and what the switch does about it
        plan_id: NotRequired[str]  # set when the plan is shown (plans.save)
        worker_classes: NotRequired[List[str]]  # the page's choices (api.plan)

    class SwitchRecord(TypedDict, total=False):
        """What the plugin keeps about a switched site (records.py): the status page, the
        controls and the rollback read it. Records written by older releases may lack the
        newer keys, hence total=False."""
        site: str
        task_id: str
        switched_at: Optional[float]
        gunicorn_conf: str
        gunicorn_bin: str
        pidfile: Optional[str]
        runtime_dir: str
        stats_dir: str
        control_socket: Optional[str]
        error_log: Optional[str]
        access_log: Optional[str]
        log_dir: str
        bind: str
        venv: str
        project_path: str
        gunicorn_version: str
        graceful_timeout: Optional[int]
        manager: str
        manager_detail: str
        workers: Optional[int]
        domain: str
        nginx_addr: str
        baseline_status: int
        user: str
        backlog: Optional[int]
        uwsgi: Dict[str, Any]
        backups: List[Dict[str, Any]]
        nginx_files: List[str]
        project_config_text: Optional[str]
        project_config_switched: Optional[str]
        crons: Optional[Dict[str, Any]]
        daemons: List[Dict[str, Any]]
        boot: Optional[Dict[str, Any]]

    class Task(TypedDict):
        """A background task's journal (tasks.py)."""
        id: str
        kind: str
        site: str
        state: str
        steps: List[Dict[str, Any]]
        payload: Any
        data: Dict[str, Any]
        committed: bool
        committed_at: NotRequired[float]
        error: Optional[str]
        created: float
        finished: Optional[float]
        pid: Optional[int]
