"""A long-lived `licentia` CLI process for the end-to-end tests (run as a script, not imported
by the tests).

Starting `python -m licentia` costs about a second of CPU before the command does anything
(the whole package is imported), and the e2e fixtures run dozens of set-up commands. This
process imports the CLI once and then runs one command per request, each in a fresh Click
context exactly like `CliRunner` does in tests/cli: its own stdout and stderr, its own
environment, and the exit code a real process would return (an uncaught exception prints its
traceback to stderr and exits 1). The server under test still runs in processes of its own.

Requests and answers are one JSON object per line: `{"argv": [...], "env": {...}}` on stdin,
`{"rc": N, "stdout": "...", "stderr": "..."}` on the stdout it was started with.
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def main() -> int:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    # Stray writes to the real stdout (there should be none) must not corrupt the answers.
    sys.stdout = sys.stderr

    import typer.main
    import typer.testing
    from typer.testing import CliRunner

    from licentia.cli.main import app

    # Built once: typer's CliRunner would rebuild the click command tree on every invoke.
    command = typer.main.get_command(app)
    typer.testing._get_command = lambda _app: command  # type: ignore[attr-defined]

    for line in sys.stdin:
        request = json.loads(line)
        os.environ.clear()
        os.environ.update(request["env"])
        result = CliRunner().invoke(app, request["argv"], catch_exceptions=True)
        stderr = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            exc = result.exception
            stderr += "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        answer = {"rc": result.exit_code, "stdout": result.stdout, "stderr": stderr}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
