"""Benchmark cold start: `img-advisor ask "what is an observership"` against `python -c "import rapidfuzz"`.

Each command runs --runs times as a fresh process, interleaved; the medians and their
ratio to the baseline are printed. `img-advisor ask` runs twice over: with the knowledge
cache (bot/knowledge/cache.py, in a temporary directory, filled by a first run: what
every start after the first sees) and with `IMG_ADVISOR_KB_CACHE=off`. The baseline is the least any Python program that matches with
rapidfuzz pays to start, measured on the same machine in the same run, so the ratio
travels between machines better than seconds do.

Run:  python tests/benchmarks/bench_cold_start.py [--runs 15] [--before /path/to/older/checkout]

--before adds `img-advisor ask` from another checkout (run with PYTHONPATH set to it) to
the same interleaved rounds, so a before/after comparison sees the same machine load.

Bytecode: the package's modules are compiled first (`compileall`, into their
`__pycache__`, as `pip install` does and as any first run does), because an environment
with PYTHONDONTWRITEBYTECODE set never writes them and would have every start compile
~50 modules from source, which is not what an installed bot pays; the floor's rapidfuzz
is compiled already. --no-compile skips that step (and says so) to measure the other case.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTION = "what is an observership"


def ask_command() -> list[str]:
    script = Path(sys.executable).with_name("img-advisor")
    if script.exists():
        return [str(script), "ask", QUESTION]
    found = shutil.which("img-advisor")
    if found:
        return [found, "ask", QUESTION]
    return [sys.executable, "-c", "import sys; from adapters.cli import main; sys.exit(main(sys.argv[1:]))",
            "ask", QUESTION]


def once(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr.decode(errors='replace')}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--before", type=Path, help="an older checkout to time in the same rounds")
    parser.add_argument("--no-compile", action="store_true",
                        help="do not compile the checkouts' modules first (with PYTHONDONTWRITEBYTECODE set, "
                             "every start then compiles them from source)")
    args = parser.parse_args()
    if not args.no_compile:
        for checkout in [Path(__file__).resolve().parents[2], *([args.before.resolve()] if args.before else [])]:
            for package in ("bot", "adapters"):
                compileall.compile_dir(checkout / package, quiet=1)
    elif os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("(no bytecode caches: PYTHONDONTWRITEBYTECODE is set and --no-compile was given)")
    cache = tempfile.TemporaryDirectory(prefix="bench-cold-cache-")
    runs = {
        "img-advisor ask (cache)": (ask_command(), {**os.environ, "IMG_ADVISOR_KB_CACHE": cache.name}),
        "img-advisor ask (no cache)": (ask_command(), {**os.environ, "IMG_ADVISOR_KB_CACHE": "off"}),
        "python -c 'import rapidfuzz'": ([sys.executable, "-c", "import rapidfuzz"], dict(os.environ)),
    }
    if args.before:
        old = {**os.environ, "PYTHONPATH": str(args.before.resolve())}
        runs = {"before: img-advisor ask": (ask_command(), old), **runs}
    with cache:
        for command, env in runs.values():  # warm the OS file cache, bytecode caches and the knowledge cache
            once(command, env)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.runs):
            for name, (command, env) in runs.items():
                times[name].append(once(command, env))
    medians = {name: statistics.median(samples) for name, samples in times.items()}
    baseline = medians["python -c 'import rapidfuzz'"]
    fastest = min(times["python -c 'import rapidfuzz'"])
    for name, median in medians.items():
        print(f"{name:30} median {median * 1000:7.1f} ms  min {min(times[name]) * 1000:6.1f} ms  "
              f"ratio of medians {median / baseline:5.1f}x  of minimums {min(times[name]) / fastest:5.1f}x")
    print(f"({args.runs} runs each; on a busy machine the minimums show the cost without contention)")

if __name__ == "__main__":
    main()
