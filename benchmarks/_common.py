"""Shared pieces of the benchmarks: machine description, paired timing, markdown.

- ``environment``: machine (CPUs, model name, load), versions and torch
  threads, stated once per report and summarised on every row.
- ``paired_ratio``: time a baseline and a candidate in alternation (ABBA
  order) and return the median of the per-repeat ratios. Speed figures are
  only ever such ratios, measured in one run: the absolute times on a shared
  machine say little.
- ``markdown_table``: a list of dicts as a markdown table.
"""

import os
import platform
import statistics
import time

import numpy as np

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment():
    """Machine, versions and threads, as a dict of strings."""
    import sklearn
    import skorch
    import torch

    import skhidden

    try:
        load = f"{os.getloadavg()[0]:.1f}"
    except OSError:
        load = "n/a"
    try:
        import aeon

        aeon_version = aeon.__version__
    except ImportError:
        aeon_version = "absent"
    return {
        "cpus": str(os.cpu_count()),
        "cpu_model": _cpu_model(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "skorch": skorch.__version__,
        "sklearn": sklearn.__version__,
        "numpy": np.__version__,
        "aeon": aeon_version,
        "skhidden": skhidden.__version__,
        "torch_threads": str(torch.get_num_threads()),
        "load_1min": load,
    }


def machine_line(env):
    """One short line naming the machine and versions, for each table row."""
    return (
        f"{env['cpus']}x {env['cpu_model']}, py{env['python']}, torch {env['torch']}, "
        f"skorch {env['skorch']}, sklearn {env['sklearn']}, "
        f"skhidden {env['skhidden']}, "
        f"{env['torch_threads']} thread(s)"
    )


def paired_ratio(baseline, candidate, repeats=7, warmup=1):
    """Median ratio ``candidate time / baseline time`` over interleaved repeats.

    The two are timed back to back in each repeat, in ABBA order (baseline
    first in even repeats, candidate first in odd ones), so slow drift of
    the machine's load hits both alike. Both wall-clock and process CPU time
    are taken: with one torch thread, CPU time is the work done and is far
    less sensitive to other processes sharing the cores.

    Parameters
    ----------
    baseline, candidate : callable
        No-argument functions doing the same work.
    repeats : int, default=7
        Timed repeats (pairs).
    warmup : int, default=1
        Untimed runs of each before timing.

    Returns
    -------
    result : dict
        ``wall_ratio``, ``cpu_ratio`` (medians of the per-repeat ratios),
        ``wall_q1``/``wall_q3`` and ``cpu_q1``/``cpu_q3`` (quartiles of the
        ratios), ``baseline_wall_s``/``candidate_wall_s`` (median seconds,
        for context only) and ``repeats``.
    """
    for _ in range(warmup):
        baseline()
        candidate()
    wall, cpu, base_wall, cand_wall = [], [], [], []
    for i in range(repeats):
        order = [("b", baseline), ("c", candidate)]
        if i % 2:
            order.reverse()
        times = {}
        for key, fn in order:
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            times[key] = (time.perf_counter() - w0, time.process_time() - c0)
        wall.append(times["c"][0] / times["b"][0])
        cpu.append(times["c"][1] / max(times["b"][1], 1e-9))
        base_wall.append(times["b"][0])
        cand_wall.append(times["c"][0])
    q = lambda values, p: float(np.percentile(values, p))  # noqa: E731
    return {
        "wall_ratio": statistics.median(wall),
        "cpu_ratio": statistics.median(cpu),
        "wall_q1": q(wall, 25),
        "wall_q3": q(wall, 75),
        "cpu_q1": q(cpu, 25),
        "cpu_q3": q(cpu, 75),
        "baseline_wall_s": statistics.median(base_wall),
        "candidate_wall_s": statistics.median(cand_wall),
        "repeats": repeats,
    }


def markdown_table(rows, columns=None):
    """Rows (dicts) as a markdown table; ``columns`` picks and orders keys."""
    if not rows:
        return "(no rows)\n"
    columns = columns or list(rows[0])
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _cell(value):
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value).replace("|", "\\|")


def set_threads(n):
    """Fix torch's intra-op threads (both sides of every comparison use it)."""
    import torch

    torch.set_num_threads(n)
