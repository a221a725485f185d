"""Entry point for ``python -m wfleak`` and the ``wfleak`` command.

The signal handlers go in before anything heavy is imported, so that a Ctrl-C or SIGTERM at
any moment of start-up ends wfleak with its exit code and no traceback.
"""

import gc
import sys


def main() -> None:
    try:
        from wfleak import lifecycle

        lifecycle.install()
    except KeyboardInterrupt:
        # Ctrl-C before the handlers were in place.
        sys.exit(130)
    try:
        from wfleak import launch

        launch.start_early(sys.argv[1:])
        from wfleak.cli import main as cli_main

        cli_main()
    except lifecycle.Interrupted as stopped:
        # A signal before any analysis started, or after the last one: nothing to keep.
        lifecycle.kill_all_groups()
        with lifecycle.quiet_errors():
            sys.stderr.write(f"wfleak: {lifecycle.describe(stopped.signum)}\n")
            sys.stderr.flush()
        sys.exit(lifecycle.exit_code(stopped.signum))
    finally:
        # Everything is written by now: the interpreter's collections on the way out would
        # only walk what the command made (the report, rich's and typer's objects), most of
        # its time after the worker's report arrives.
        gc.freeze()


if __name__ == "__main__":
    main()
