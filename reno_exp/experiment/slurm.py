"""Job states of a SLURM sweep on a cluster that keeps no accounting.

submitit polls ``sacct`` for the states of a sweep's jobs. Where SLURM keeps no accounting (a one-node
cluster such as scripts/local_slurm.py, some small clusters) every poll fails and submitit logs a warning
each time, for as long as the sweep runs. This Hydra callback (conf/hydra/launcher/slurm.yaml registers it)
tries ``sacct`` once when the sweep starts; where it fails it says so in one line and has submitit read the
states from ``squeue``, which needs no accounting. Clusters where ``sacct`` works are left as they are.
"""

from __future__ import annotations

import logging
import os
import subprocess

from hydra.experimental.callback import Callback
from submitit.slurm import slurm

log = logging.getLogger(__name__)

# submitit's own query (SlurmInfoWatcher._make_command) for a job that cannot exist
SACCT = ["sacct", "-o", "JobID,State,NodeList", "--parsable2", "-j", "1"]
# a job SLURM has forgotten (MinJobAge after it ended) is missing from squeue: it is over
GONE = "ENDED"


def sacct_problem() -> str | None:
    """Why ``sacct`` cannot report job states here, in one line; None when it works."""
    try:
        done = subprocess.run(SACCT, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    if done.returncode == 0:
        return None
    return (done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}").splitlines()[0]


class SqueueWatcher(slurm.SlurmInfoWatcher):
    """submitit's state poller, reading ``squeue`` (the user's jobs, finished ones included) for ``sacct``."""

    def _make_command(self) -> list[str] | None:
        if not self._registered - self._finished:
            return None
        return ["squeue", f"--user={os.getuid()}", "--states=all", "--noheader", "--format=%i|%T|%N"]

    def read_info(self, string: bytes | str) -> dict[str, dict[str, str]]:
        text = string.decode() if isinstance(string, bytes) else string
        info = super().read_info("JobID|State|NodeList\n" + text)  # sacct's layout, parsed by submitit
        for job_id in self._registered - self._finished - info.keys():
            info[job_id] = {"JobID": job_id, "State": GONE, "NodeList": ""}
        return info


class SqueueWhenNoAccounting(Callback):
    def on_multirun_start(self, config, **kwargs) -> None:
        problem = sacct_problem()
        if problem is None:
            return
        log.info("sacct cannot report job states here (%s): polling squeue instead", problem)
        slurm.SlurmJob.watcher = SqueueWatcher(delay_s=slurm.SlurmJob.watcher._delay_s)
