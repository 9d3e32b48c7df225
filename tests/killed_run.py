"""``python tests/killed_run.py POINT [overrides]``: the app, SIGKILLed by itself at an exact point
(``KILL_SIGNAL=SIGINT``: interrupted there, as by Ctrl-C).

A test that polls the run directory from outside and kills when it sees a state can miss a state
that lasts microseconds (an item's files saved, its record not yet appended) on a fast machine: the
run then finishes first and the test fails at random. Killing from inside at a named point cannot
miss. POINT is ``build`` (run.yaml written, nothing built or recorded), ``after:N`` (N records whole,
between items) or ``before:N`` (the files of record N saved, the record not written).
"""

from __future__ import annotations

import os
import runpy
import signal
import sys

import reno_exp.assemble.parts
from reno_exp.store.records import RunRecords

point, sys.argv[1:] = sys.argv[1], sys.argv[2:]
where, _, n = point.partition(":")


if os.environ.get("KILL_SIGNAL") == "SIGINT":
    # a process started in the background by a non-interactive shell (CI, `make test &`) inherits SIGINT
    # ignored, and Python then keeps it ignored; a terminal's Ctrl-C meets Python's own handler
    signal.signal(signal.SIGINT, signal.default_int_handler)


def die() -> None:
    os.kill(os.getpid(), getattr(signal, os.environ.get("KILL_SIGNAL", "SIGKILL")))


if where == "build":
    reno_exp.assemble.parts.build = lambda *a, **k: die()
else:
    append, calls = RunRecords.append, []

    def killing_append(self, record: dict) -> None:
        calls.append(record["key"])
        if where == "before" and len(calls) == int(n):
            die()
        append(self, record)
        if where == "after" and len(calls) == int(n):
            die()

    RunRecords.append = killing_append
sys.argv[0] = "reno_exp"
runpy.run_module("reno_exp", run_name="__main__", alter_sys=True)
