import sys

if len(sys.argv) == 3 and sys.argv[1] == "run-task":
    from .runner import run
    sys.exit(run(sys.argv[2]))

from .cli import main  # noqa: E402

sys.exit(main())
