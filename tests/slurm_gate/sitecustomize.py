"""Holds a run at an exact point, for the SLURM tests: with ``RENO_EXP_TEST_GATE=<file>`` and
``RENO_EXP_TEST_GATE_AFTER=N`` in a process's environment (and this folder on its PYTHONPATH, so that
Python imports this file at start-up, in a SLURM job too), a run whose directory holds N records waits,
before writing another, until the file exists. A preemption or a time limit then always finds the job
mid-run with exactly N records, however fast the machine (no test depends on how long an item takes),
and a requeued job waits at the same point. Without the variables nothing is changed."""

import os

if os.environ.get("RENO_EXP_TEST_GATE"):
    import time

    from reno_exp.store.records import RunRecords

    gate, after = os.environ["RENO_EXP_TEST_GATE"], int(os.environ.get("RENO_EXP_TEST_GATE_AFTER", "1"))
    append = RunRecords.append

    def gated_append(self, record: dict) -> None:
        deadline = time.monotonic() + 1800
        while len(self.done) >= after and not os.path.exists(gate):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the test never opened {gate}")
            time.sleep(0.2)  # a signal (SLURM's preemption, submitit's time-out) ends the wait
        append(self, record)

    RunRecords.append = gated_append
