"""Facts about the machine a benchmark ran on: CPU, cores, memory, libraries, parallelism."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
import time

PACKAGES = ("normtheory", "jax", "jaxlib", "optax", "numpy", "torch")

_SPIN = """
import time
end = time.perf_counter() + {s}
n = 0
while time.perf_counter() < end:
    n += 1
print(n, time.process_time())
"""


def _cpuinfo(field: str) -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith(field):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _memory_gib() -> float:
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def versions() -> dict[str, str]:
    """Installed versions of the libraries compared ("not installed" where missing)."""
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def parallel_capacity(seconds: float = 1.0) -> dict[str, float]:
    """Work of 2 concurrent busy processes over that of 1 (2.0 on two free cores).

    Python loops counting for `seconds`, pinned to no CPU, after a warm-up: the best of
    two tries of each. Also the cores other processes kept busy meanwhile (at most).
    """

    def spin(copies: int) -> tuple[int, float]:
        before, start = busy_seconds(), time.perf_counter()
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _SPIN.format(s=seconds)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(copies)
        ]
        outs = [p.communicate()[0].split() for p in procs]
        wall = time.perf_counter() - start
        own = sum(float(o[1]) for o in outs)
        return sum(int(o[0]) for o in outs), max(busy_seconds() - before - own, 0.0) / wall

    spin(1)
    tries = [spin(copies) for copies in (1, 2, 1, 2)]
    one = max(tries[0][0], tries[2][0])
    two = max(tries[1][0], tries[3][0])
    return {"ratio": two / one, "other_load": max(t[1] for t in tries)}


def busy_seconds() -> float:
    """CPU seconds the machine has spent busy or stolen by the hypervisor (all CPUs)."""
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def background_load(seconds: float = 1.0) -> float:
    """Cores kept busy by other processes while this one sleeps for `seconds`."""
    before, start = busy_seconds(), time.perf_counter()
    time.sleep(seconds)
    return (busy_seconds() - before) / (time.perf_counter() - start)


def describe(spin_seconds: float = 1.0) -> dict[str, object]:
    """CPU model, flags of note, cores, memory, kernel, library versions, parallelism."""
    flags = set(_cpuinfo("flags").split())
    return {
        "cpu": _cpuinfo("model name"),
        "simd": " ".join(f for f in ("avx", "avx2", "fma", "avx512f") if f in flags),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(_memory_gib(), 1),
        "kernel": platform.release(),
        "versions": versions(),
        "background_load": background_load(spin_seconds),
        "parallel_capacity": parallel_capacity(spin_seconds),
    }
