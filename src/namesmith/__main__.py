"""``python -m namesmith`` and the ``namesmith`` command.

The command line lives in :mod:`namesmith.cli`; importing it (NumPy and the rest)
takes a few tenths of a second, and a Ctrl-C during that time is answered like
any other: one line and exit 130, no traceback. The package's ``__init__`` imports
nothing heavy, so the only unguarded moment is the interpreter's own start.
"""

import os
import signal
import sys

INTERRUPTED = 130
_HEARD = []  # a Ctrl-C reached this process's own handler


def _on_ctrl_c(signum, frame):
    _HEARD.append(signum)
    raise KeyboardInterrupt


def main() -> int:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_ctrl_c)  # the same behaviour, remembered
    try:
        from .cli import main as cli
    except KeyboardInterrupt:
        return _interrupted()
    except ImportError:
        if _HEARD:  # NumPy turns a Ctrl-C during its import into an ImportError ("could not import datetime")
            return _interrupted()
        raise
    try:
        code = cli()
    except KeyboardInterrupt:
        sys.stderr.write("namesmith: interrupted\n")
        code = INTERRUPTED
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the command is done: a late Ctrl-C changes nothing
    return _exit_now(code) if code == INTERRUPTED or _HEARD else code


def _interrupted() -> int:
    sys.stderr.write("namesmith: interrupted\n")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return _exit_now(INTERRUPTED)


def _exit_now(code: int) -> int:
    """Exit with ``code`` at once. CPython remembers a Ctrl-C that interrupted code run through ``exec``
    (dataclasses and others build functions that way) even when it was caught later, and then ends the
    process by SIGINT at exit instead of with the code returned; seen in 2 of 120 interrupted start-ups."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


if __name__ == "__main__":  # also imported by worker processes (spawn), which must not run the CLI
    sys.exit(main())
