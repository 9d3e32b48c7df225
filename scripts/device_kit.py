#!/usr/bin/env python3
"""The device kit: what ``gpu-check`` needs on the lent GPU machine beyond that machine's image, the one
command that runs it there, and a rehearsal of that command here.

  python scripts/device_kit.py kit        # .whl/: the kit's wheels, their requirements checked, the size
  python scripts/device_kit.py command    # the device command, its length and what travels with it
  python scripts/device_kit.py rehearse   # make device-rehearsal: the image's packages in a venv, the kit
                                          # installed as the device installs it, the device command's
                                          # Python part on the CPU with no network

The lent machine (the device tool's KINDS.md) starts bare and reaches no network; its python3 is 3.12 with
torch 2.11 and most of this project's stack, but not diffusers, Hydra, OmegaConf or open_clip. The kit is
those, as wheels that travel in ``.whl/`` (named in the run's ``carry``), and the cost model's estimates
of the real models (``.whl/gpu_check_estimates.json``: minutes of meta dry runs done here, not there).
W&B, spaCy, submitit and pooch stay out: gpu-check never imports them (tests/test_device_kit.py).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from email.parser import Parser
from glob import glob
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KIT_DIR = ".whl"
ESTIMATES = f"{KIT_DIR}/gpu_check_estimates.json"
KIT_LIMIT_MIB = 50  # of the 64 MiB a call may carry: the tree itself travels too

# The kit: this repo's venv's versions (pyproject.toml's ranges admit them), one of each.
KIT = {
    "diffusers": "0.42.1",  # needs huggingface-hub>=1.32 and safetensors>=0.8: the image's 1.33 and 0.8.0
    "hydra-core": "1.3.8",
    "omegaconf": "2.3.0",
    "antlr4-python3-runtime": "4.9.3",  # only an sdist on PyPI: built into a pure-Python wheel here
    "open-clip-torch": "3.3.0",  # the reward towers and the CLIP tokenizers' vocabulary
    "ftfy": "6.3.1",  # open_clip's
    "wcwidth": "0.9.4",  # ftfy's
    "importlib-metadata": "10.2.0",  # diffusers'
    "lazy-importer": "0.1.0",  # importlib-metadata's on Python < 3.15
}
BUILT_HERE = {"antlr4-python3-runtime"}
NEVER_IN_KIT = ("wandb", "spacy", "submitit", "hydra-submitit-launcher", "pooch")

# The image's python3 packages (KINDS.md, "Python packages already there", read there on 2026-11-17).
IMAGE = frozenset("""
absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build certifi
charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core
cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock
flatbuffers flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx humanize
huggingface-hub hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib
jaxtyping jinja2 joblib kiwisolver lazy-loader lightning lightning-utilities linear-operator lineax llvmlite
lxml markdown markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict
multipledispatch mypy-extensions nanobind narwhals networkx ninja numba numba-cuda numpy numpyro nvidia-cublas
nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile
nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13
nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript opencv-python-headless
optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging pandas pathspec patsy peft pillow pip
pluggy portalocker prometheus-client propcache protobuf psutil pyarrow pybind11 py-cpuinfo pygments
pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock pytest-timeout
pytest-xdist python-dateutil
pytorch-lightning pyyaml regex requests rich sacrebleu safetensors scikit-build-core scikit-image scikit-learn
scipy seaborn sentencepiece sentence-transformers setuptools shellingham simplejson six sortedcontainers
statsmodels sympy tabulate tensorboard tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken
timm tokenizers toolz torch torchaudio torchdiffeq torch-geometric torchmetrics torchvision tqdm transformers
treescope triton typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt
xarray xxhash yarl zipp
""".split())
# The versions read there (KINDS.md's pip list row); the image's other packages were listed without one.
IMAGE_VERSIONS = {
    "torch": "2.11.0", "torchvision": "0.26.0", "transformers": "5.17.0", "huggingface-hub": "1.33.0",
    "accelerate": "1.15.0", "safetensors": "0.8.0", "numpy": "2.5.2", "sentencepiece": "0.2.2",
    "tokenizers": "0.23.2", "triton": "3.6.0",
}
# The rehearsal's venv: what of the image this project uses, at the image's versions where they were read
# there, else at this repo's venv's.
REHEARSAL = {**IMAGE_VERSIONS, "timm": "1.0.31", "matplotlib": "3.11.2", "scipy": "1.17.1", "pillow": "13.0.0",
             "tqdm": "4.70.1", "pyyaml": "6.0.4", "regex": "2026.11.19", "requests": "2.34.2",
             "filelock": "4.3.1", "packaging": "26.4", "zipp": "4.1.2"}

# The device command: the kit into /tmp/site, then gpu-check with the image's python3, each row into $OUT
# as it is measured. The budget ends it cleanly inside the run's timeout, which leaves a rerun's worth of
# the session's 15 device minutes after a machine's start.
BUDGET_S = 440
TIMEOUT_S = 480
CARRY = [KIT_DIR]
COMMAND_LIMIT = 2000  # characters, the device tool's
TRAVEL_LIMIT_MIB = 64
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def install_part(python: str = "python3", site: str = "/tmp/site") -> str:
    """The kit installed as the device tool's README says: no index, no dependencies, into a folder."""
    return (f"{python} -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade "
            f"--target {site} {KIT_DIR}/*.whl && export PYTHONPATH={site}:$PWD PYTHONUNBUFFERED=1 "
            f"HF_HUB_OFFLINE=1 WANDB_MODE=offline || exit")


def check_part(python: str = "python3", out: str = "$OUT", extra: str = "") -> str:
    """gpu-check; its log also under ``out``, which comes back even when the run is stopped at its limit."""
    return (f"set -o pipefail; {python} -m reno_exp.bench.gpu_check --budget-s {BUDGET_S} --estimates {ESTIMATES} "
            f"--out {out}{' ' + extra if extra else ''} 2>&1 | tee {out}/gpu_check.log")


def device_command() -> str:
    return f"{install_part()}; {check_part()}"


# --- the kit ----------------------------------------------------------------------------------------------

def pip(python: str, *args: str, errors: bool = True) -> None:
    """``errors=False``: a failure is expected and handled, so pip's own account of it is not shown."""
    cmd = [python, "-m", "pip", *args]
    print("$ " + " ".join(shlex.quote(a) for a in cmd), flush=True)
    done = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
    # this machine's pip config names local indexes that lack most packages: pip says so for each
    noise = "is ignored: it is neither a file nor a directory"
    if errors:
        sys.stderr.write("".join(line for line in done.stderr.splitlines(True) if noise not in line))
    done.check_returncode()


def wheel_name(path: Path) -> tuple[str, str]:
    name, version = path.name.split("-")[:2]
    return canonical(name), version


def requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(z.read(meta).decode()).get_all("Requires-Dist") or []


def unmet(wheels: list[Path]) -> list[str]:
    """What a kit wheel requires on the device (Python 3.12, Linux x86-64, no extras) that neither the kit
    nor the image holds, at a version the kit or the image's read version satisfies."""
    from packaging.requirements import Requirement

    env = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
           "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
           "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
    held = {**{n: None for n in IMAGE}, **IMAGE_VERSIONS, **{canonical(k): v for k, v in KIT.items()}}
    problems = []
    for wheel in wheels:
        for line in requirements(wheel):
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            name = canonical(req.name)
            if name not in held:
                problems.append(f"{wheel.name} needs {line}: neither the image nor the kit holds {name}")
            elif held[name] is not None and not req.specifier.contains(held[name], prereleases=True):
                problems.append(f"{wheel.name} needs {line}: the device would have {name} {held[name]}")
    return problems


def size_mib(paths) -> float:
    return sum(p.stat().st_size for p in paths if p.is_file()) / 2**20


def kit(args) -> int:
    """Download the kit into .whl/ (old wheels removed first: two versions of one stop the install)."""
    out = ROOT / KIT_DIR
    out.mkdir(exist_ok=True)
    for old in out.glob("*.whl"):
        old.unlink()
    binary = [f"{n}=={v}" for n, v in KIT.items() if n not in BUILT_HERE]
    platforms = [a for p in PLATFORMS for a in ("--platform", p)]
    pip(args.python, "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
        "--implementation", "cp", *platforms, "-d", str(out), *binary)
    for name in BUILT_HERE:
        pip(args.python, "wheel", "-q", "--no-deps", "-w", str(out), f"{name}=={KIT[name]}")
    wheels = sorted(out.glob("*.whl"))
    names = [wheel_name(w) for w in wheels]
    expected = sorted((canonical(n), v) for n, v in KIT.items())
    if sorted(names) != expected:
        print(f"error: {KIT_DIR}/ holds {sorted(names)}, not the kit {expected}", file=sys.stderr)
        return 1
    problems = unmet(wheels)
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if problems:
        return 1
    mib = size_mib(wheels)
    print(f"kit: {len(wheels)} wheels in {KIT_DIR}/, {mib:.1f} MiB (limit {KIT_LIMIT_MIB}); each requirement on "
          "the device met by the image or the kit")
    return 0 if mib < KIT_LIMIT_MIB else 1


# --- the command ------------------------------------------------------------------------------------------

def travelling_mib() -> float:
    """What a device call sends: the tracked and untracked-not-ignored files, and the carried kit."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    return size_mib([ROOT / p for p in listed if p]) + size_mib((ROOT / KIT_DIR).glob("*"))


def command(args) -> int:
    line = device_command()
    print(line)
    print(f"\n{len(line)} characters (limit {COMMAND_LIMIT}); run it with the device tool's run: "
          f"carry={CARRY}, timeout_s={TIMEOUT_S}; gpu-check stops itself after {BUDGET_S} s", file=sys.stderr)
    mib = travelling_mib()
    print(f"the tree and the kit travel as {mib:.1f} MiB (limit {TRAVEL_LIMIT_MIB})", file=sys.stderr)
    missing = [p for p in (ROOT / ESTIMATES,) if not p.exists()] + ([] if glob(str(ROOT / KIT_DIR / "*.whl"))
                                                                      else [ROOT / KIT_DIR / "*.whl"])
    for p in missing:
        print(f"warning: {p.relative_to(ROOT)} is missing: make device-kit", file=sys.stderr)
    return 0 if len(line) <= COMMAND_LIMIT and mib < TRAVEL_LIMIT_MIB else 1


# --- the rehearsal ----------------------------------------------------------------------------------------

def python312() -> str:
    """A Python 3.12, the device's: $DEVICE_PYTHON, python3.12 on the PATH, or pyenv's."""
    candidates = [os.environ.get("DEVICE_PYTHON"), shutil.which("python3.12"),
                  *sorted(glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))]
    for c in filter(None, candidates):
        probe = subprocess.run([c, "-c", "import sys; assert sys.version_info[:2] == (3, 12)"], capture_output=True)
        if probe.returncode == 0:
            return c
    raise SystemExit("error: no Python 3.12 here (the device's); set DEVICE_PYTHON=/path/to/python3.12")


def installed(python: str) -> dict[str, str]:
    listed = subprocess.run([python, "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
                            capture_output=True, text=True, check=True).stdout
    return {canonical(n): v for n, _, v in (line.partition("==") for line in listed.split())}


def image_venv(base: Path, fresh: bool) -> str:
    """``base/venv``: the image's packages this project uses (REHEARSAL and what they pull in, each on the
    image's list), from ``base/cache``; the network is used only to fill that cache."""
    venv, cache = base / "venv", base / "cache"
    stamp = venv / "rehearsal-pins.txt"
    pins = [f"{n}=={v}" for n, v in sorted(REHEARSAL.items())]
    python = str(venv / "bin" / "python")
    if not fresh and stamp.exists() and stamp.read_text().split() == pins:
        print(f"venv: {venv} (built before from these pins; FRESH=1 rebuilds it)", flush=True)
        return python
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([python312(), "-m", "venv", str(venv)], check=True)
    cache.mkdir(parents=True, exist_ok=True)
    quiet = ["-q", "--disable-pip-version-check"]
    try:
        pip(python, "install", *quiet, "--no-index", "--find-links", str(cache), *pins, errors=False)
    except subprocess.CalledProcessError:
        print("venv: the cache lacks some of these: downloading them once", flush=True)
        pip(python, "download", *quiet, "-d", str(cache), *pins)
        pip(python, "install", *quiet, "--no-index", "--find-links", str(cache), *pins)
    # newer releases of the image's packages than it holds may pull in what it lacks (typer: pydantic):
    # gone, as on the device, so that nothing here can come to need them
    extra = sorted(set(installed(python)) - IMAGE)
    if extra:
        print(f"venv: removing what the image does not hold: {', '.join(extra)}", flush=True)
        pip(python, "uninstall", "-q", "-y", *extra)
    stamp.write_text("\n".join(pins) + "\n")
    return python


def offline_prefix() -> list[str]:
    """No network for the run: a network namespace of its own where the system allows one."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True).returncode == 0:
        return [unshare, "-n"]
    print("warning: unshare -n is not allowed here: the run is offline by HF_HUB_OFFLINE and pip --no-index only")
    return []


def rehearse(args) -> int:
    """The device command's steps here, as the device would run them: the kit into a fresh --target folder
    of a venv that holds only the image's packages, then gpu-check: --plan (the real run's steps and their
    estimated seconds, from the kit's estimates) and --dry (the measurement code on the CPU, through the
    CUDA seam's stand-in). It ends with the dry table; any failure ends it with exit code 1."""
    base = ROOT / ".device"
    started = time.perf_counter()
    python = image_venv(base, args.fresh)
    built = time.perf_counter()
    print(f"venv ready in {built - started:.0f} s", flush=True)
    if not glob(str(ROOT / KIT_DIR / "*.whl")):
        raise SystemExit(f"error: no kit in {KIT_DIR}/: make device-kit")
    site, out = base / "site", base / "out"
    for d in (site, out):
        shutil.rmtree(d, ignore_errors=True)
    out.mkdir(parents=True)
    site_rel, out_rel = site.relative_to(ROOT), out.relative_to(ROOT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_", "VIRTUAL_ENV", "RENO_EXP"))}
    env |= {"PIP_CONFIG_FILE": os.devnull, "HF_HUB_OFFLINE": "1"}  # the device has no pip config of ours
    prefix = offline_prefix()
    stages = [
        ("plan: the device run's steps, from the kit's estimates",
         f"{install_part(python, str(site_rel))}; {python} -m reno_exp.bench.gpu_check --plan "
         f"--budget-s {BUDGET_S} --estimates {ESTIMATES}"),
        ("dry: the device command with --dry (model=tiny, the CPU in CUDA's place)",
         f"{install_part(python, str(site_rel))}; {check_part(python, str(out_rel), '--dry')}"),
    ]
    for title, line in stages:
        print(f"\n== {title}\n$ {line}", flush=True)
        done = subprocess.run([*prefix, "bash", "-c", line], cwd=ROOT, env=env)
        if done.returncode != 0:
            print(f"error: the rehearsal failed at '{title}' (exit code {done.returncode})", file=sys.stderr)
            return 1
    print(f"\nrehearsal: venv {built - started:.0f} s, runs {time.perf_counter() - built:.0f} s; "
          f"{out_rel}/ holds {', '.join(sorted(p.name for p in out.iterdir()))}")
    print((out / "gpu_check.md").read_text().rstrip())
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python scripts/device_kit.py", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    k = sub.add_parser("kit", help="download the kit into .whl/ and check it")
    k.add_argument("--python", default=sys.executable, help="the python whose pip downloads")
    sub.add_parser("command", help="print the device command")
    r = sub.add_parser("rehearse", help="the device command's Python part here, offline, on the CPU")
    r.add_argument("--fresh", action="store_true", help="rebuild the venv (from the download cache)")
    args = p.parse_args(argv)
    return {"kit": kit, "command": command, "rehearse": rehearse}[args.what](args)


if __name__ == "__main__":
    sys.exit(main())
