#!/usr/bin/env python3
"""A one-node SLURM cluster on this machine: try a sweep's SLURM path before queueing it on a real cluster.

    python3 scripts/local_slurm.py start        # as root; prints the line below
    export SLURM_CONF=/tmp/reno_exp-slurm/slurm.conf
    python -m reno_exp -m ... hydra/launcher=slurm hydra.launcher.partition=debug hydra.launcher.gpus_per_node=0
    python3 scripts/local_slurm.py stop

``start`` installs Debian's munge, slurmctld, slurmd and slurm-client with apt-get when they are missing,
writes everything (slurm.conf, munge key and socket, state, spool, logs, pids) into one directory, starts
munged, slurmctld and slurmd in the foreground of their own sessions (so their pids are known), and waits
until the node is idle. The node has this machine's CPUs and memory, as ``slurmd -C`` reads them; ports are
free ones picked at start, so the cluster touches no system file and can run beside another. ``stop``
cancels the cluster's jobs and ends exactly the daemons it started, by the pids recorded in the directory.
The tests (tests/test_slurm.py) start and stop it through the same class.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PACKAGES = ("munge", "slurmctld", "slurmd", "slurm-client")
PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "scontrol", "scancel", "sinfo")
SBIN = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")
PARTITION = "debug"
CRED_EXPIRE_S = 10
DEFAULT_DIR = Path(os.environ.get("TMPDIR", "/tmp")) / "reno_exp-slurm"


class SlurmUnavailable(RuntimeError):
    """SLURM cannot be installed or started on this machine (the reason is the message)."""


def which(program: str) -> str | None:
    return shutil.which(program) or shutil.which(program, path=os.pathsep.join(SBIN))


def missing_programs() -> list[str]:
    return [p for p in PROGRAMS if which(p) is None]


def unavailable_reason() -> str | None:
    """Why this machine cannot run the cluster, in one line; None when it can (perhaps after an install)."""
    if os.geteuid() != 0:
        return "a local SLURM cluster needs root (slurmd runs jobs as their user)"
    if missing_programs() and which("apt-get") is None:
        return f"SLURM is not installed ({', '.join(missing_programs())} missing) and there is no apt-get"
    return None


def install(log=print) -> None:
    """apt-get the Debian packages when a program is missing (the package lists are refreshed first)."""
    missing = missing_programs()
    if not missing:
        return
    reason = unavailable_reason()
    if reason:
        raise SlurmUnavailable(reason)
    log(f"installing {' '.join(PACKAGES)} ({', '.join(missing)} missing)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"],
                ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]):
        done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-3000:]}")
    if missing_programs():
        raise RuntimeError(f"still missing after apt-get install: {', '.join(missing_programs())}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def node_hardware() -> dict[str, str]:
    """This machine's CPUs, sockets, cores, threads and memory as slurmd itself counts them."""
    out = subprocess.run([which("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("NodeName="))
    fields = dict(f.split("=", 1) for f in line.split())
    keep = ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory")
    return {k: fields[k] for k in keep if k in fields}


class LocalSlurm:
    """munged + slurmctld + slurmd for one node, all files under ``root``."""

    DAEMONS = ("munged", "slurmctld", "slurmd")

    def __init__(self, root: str | Path = DEFAULT_DIR):
        self.root = Path(root).resolve()
        self.conf = self.root / "slurm.conf"
        self.socket = self.root / "munge" / "munge.socket"
        self.procs: dict[int, subprocess.Popen] = {}  # the daemons this object started, by pid

    @property
    def env(self) -> dict[str, str]:
        """What a client (sbatch, squeue, submitit, a job) needs to talk to this cluster."""
        path = os.environ.get("PATH", "")
        extra = [d for d in SBIN if d not in path.split(os.pathsep)]
        return {"SLURM_CONF": str(self.conf), "PATH": os.pathsep.join([path, *extra])}

    def pidfile(self, daemon: str) -> Path:
        return self.root / f"{daemon}.pid"

    def running(self) -> dict[str, int]:
        """The daemons this directory's cluster started that are still alive, by the pids recorded here."""
        alive = {}
        for daemon in self.DAEMONS:
            try:
                pid = int(self.pidfile(daemon).read_text())
            except (OSError, ValueError):
                continue
            if self._ours(pid):
                alive[daemon] = pid
        return alive

    def _ours(self, pid: int) -> bool:
        """Alive, and started for this directory (a recycled pid runs something else)."""
        proc = self.procs.get(pid)
        if proc is not None:  # started by this process: poll() also reaps it
            return proc.poll() is None
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z":
                return False
            return str(self.root) in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return False

    def clear(self) -> None:
        """Remove what an earlier cluster in this directory left (state, spool, key, logs)."""
        for d in ("state", "spool", "munge"):
            shutil.rmtree(self.root / d, ignore_errors=True)
        for pattern in ("*.log", "*.out", "*.pid", "slurm.conf"):
            for path in self.root.glob(pattern):
                path.unlink()

    def write_config(self) -> None:
        host = socket.gethostname().split(".")[0]
        hw = node_hardware()
        state, spool, munge = self.root / "state", self.root / "spool", self.socket.parent
        for d in (state, spool, munge):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(munge, 0o755)  # munged wants its socket directory searchable by all
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        os.chmod(key, 0o600)
        node = " ".join(f"{k}={v}" for k, v in hw.items())
        self.conf.write_text(f"""\
# written by scripts/local_slurm.py: a one-node cluster, every file under {self.root}
ClusterName=renoexp
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire: a requeued job waits this long (+1 s) before it may start again (default 120 s)
AuthInfo=socket={self.socket},cred_expire={CRED_EXPIRE_S}
StateSaveLocation={state}
SlurmdSpoolDir={spool}
SlurmctldPidFile={self.root / 'slurmctld.daemon.pid'}
SlurmdPidFile={self.root / 'slurmd.daemon.pid'}
SlurmctldLogFile={self.root / 'slurmctld.log'}
SlurmdLogFile={self.root / 'slurmd.log'}
# no cgroup plugins (none to set up, in a container or a VM): processes tracked by parent pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
# pending jobs (a requeued one once its wait is over) are looked at every second, not every minute
SchedulerParameters=sched_interval=1,bf_interval=1
ReturnToService=2
MailProg=/bin/true
# finished jobs stay listed (squeue --states=all, scontrol show job) for an hour
MinJobAge=3600
# a job's processes get SIGTERM, then SIGKILL this many seconds later (requeue, cancel, time limit)
KillWait=5
NodeName={host} NodeAddr=127.0.0.1 {node} State=UNKNOWN
PartitionName={PARTITION} Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")

    def start(self, timeout: float = 60, log=print) -> LocalSlurm:
        reason = unavailable_reason()
        if reason:
            raise SlurmUnavailable(reason)
        if self.running():
            raise RuntimeError(f"a cluster is already running from {self.root} (stop it first)")
        install(log)
        self.clear()
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)  # munged refuses directories others can write to
        self.write_config()
        m = self.socket.parent
        self.spawn("munged", [which("munged"), "--foreground", "--force", f"--socket={self.socket}",
                              f"--key-file={m / 'munge.key'}", f"--pid-file={m / 'munged.pid'}",
                              f"--log-file={self.root / 'munged.log'}", f"--seed-file={m / 'munge.seed'}"])
        self.wait_for(self.socket.exists, timeout, "munged to open its socket", "munged.log")
        self.spawn("slurmctld", [which("slurmctld"), "-D", "-c", "-f", str(self.conf)])
        self.wait_for(lambda: "UP" in self.client("scontrol", "ping").stdout, timeout, "slurmctld to answer",
                      "slurmctld.log")
        self.spawn("slurmd", [which("slurmd"), "-D", "-f", str(self.conf)])
        self.wait_for(lambda: self.node_state() == "idle", timeout, "the node to be idle", "slurmd.log")
        return self

    def spawn(self, daemon: str, cmd: list[str]) -> None:
        with open(self.root / f"{daemon}.out", "ab") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, env={**os.environ, **self.env})
        self.procs[proc.pid] = proc
        self.pidfile(daemon).write_text(str(proc.pid))

    def client(self, *cmd: str, check: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run([which(cmd[0]), *cmd[1:]], capture_output=True, text=True, check=check,
                              env={**os.environ, **self.env}, timeout=60)

    def node_state(self) -> str:
        return self.client("sinfo", "--noheader", "--Node", "--format=%T").stdout.strip()

    def wait_for(self, condition, timeout: float, what: str, logfile: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            dead = [d for d in self.DAEMONS if self.pidfile(d).exists() and d not in self.running()]
            if dead or time.monotonic() > deadline:
                tail = self.tail(logfile) + self.tail(f"{logfile.split('.')[0]}.out")
                self.stop()
                problem = f"{', '.join(dead)} exited" if dead else f"timed out after {timeout:.0f} s"
                raise RuntimeError(f"waiting for {what}: {problem}\n{tail}")
            time.sleep(0.2)

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.root / name
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n" if path.exists() else ""

    def cancel_jobs(self, timeout: float) -> None:
        jobs = self.client("squeue", "--noheader", "--format=%A").stdout.split()
        if jobs:
            self.client("scancel", *jobs)
            deadline = time.monotonic() + timeout
            while self.client("squeue", "--noheader").stdout.strip() and time.monotonic() < deadline:
                time.sleep(0.5)

    def stop(self, timeout: float = 30) -> list[str]:
        """Cancel this cluster's jobs, then end the daemons it started (slurmd first). Returns their names."""
        alive = self.running()
        if {"slurmctld", "slurmd"} <= alive.keys():
            try:
                self.cancel_jobs(timeout)
            except subprocess.SubprocessError:
                pass  # a controller that does not answer: its daemons are stopped all the same
        stopped = []
        for daemon in reversed(self.DAEMONS):
            pid = alive.get(daemon)
            if pid is None:
                continue
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while self._ours(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if self._ours(pid):
                os.kill(pid, signal.SIGKILL)
                time.sleep(0.5)
                self._ours(pid)  # reaps it when it is our child
            self.pidfile(daemon).unlink(missing_ok=True)
            stopped.append(daemon)
        return stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["start", "stop", "status", "install"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"cluster files (default {DEFAULT_DIR})")
    args = parser.parse_args(argv)
    cluster = LocalSlurm(args.dir)
    info = lambda msg: print(msg, file=sys.stderr)  # noqa: E731  stdout is for the export line
    try:
        if args.action == "install":
            install(info)
        elif args.action == "start":
            cluster.start(log=info)
            info(f"one-node SLURM up ({cluster.node_state()}), files in {cluster.root}; partition '{PARTITION}'")
            print(f"export SLURM_CONF={cluster.conf}")
        elif args.action == "stop":
            info(f"stopped: {', '.join(cluster.stop()) or 'nothing was running'}")
        else:
            alive = cluster.running()
            info(f"running: {alive or 'nothing'}" + (f"; node {cluster.node_state()}" if len(alive) == 3 else ""))
    except SlurmUnavailable as e:
        info(f"cannot run SLURM here: {e}")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
