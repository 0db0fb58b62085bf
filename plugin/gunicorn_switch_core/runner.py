"""The task runner's entry: ``python -m gunicorn_switch_core run-task ID``, which tasks.spawn()
starts for every switch and rollback. __main__ comes here without the command line's imports
(the whole API: ≈ 0.1 s more on a panel's Python before the first step runs)."""
from . import rollback, switch, tasks


def run(task_id):
    state = tasks.run_task(task_id, {p.kind: p for p in (switch.SWITCH, rollback.ROLLBACK)})
    return 0 if state in ("succeeded", "rolled_back") else 1
