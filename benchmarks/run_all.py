"""Regenerate every issue-3 benchmark into ``benchmarks/results/``.

``python benchmarks/run_all.py`` runs, in this order and in one process:

1. ``overhead.py``: estimator fit and every inference method against
   hand-written PyTorch;
2. ``ragged.py``: length-aware batching against padding to the global
   maximum;
3. ``accuracy.py``: the development panel with defaults, strategies x
   cells, GridSearchCV, baselines (MiniRocket, 1-NN DTW, last-state GRU),
   and the evidence for the defaults;

and writes ``benchmarks/results/report.md`` (machine, versions and settings
on every row) with the plots ``overhead.png``, ``ragged.png`` and
``accuracy.png``. ``--quick`` is a smoke run (minutes; numbers not
meaningful); ``--only overhead ragged`` runs a subset, and the report then
holds only those sections. ``--scaling`` also runs
``benchmarks/scaling.py`` (the scaling benchmark of issue 6, with its own
report) at the end.
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import accuracy  # noqa: E402
import overhead  # noqa: E402
import ragged  # noqa: E402
from _common import RESULTS, environment, machine_line, markdown_table, set_threads  # noqa: E402,E501

SECTIONS = {"overhead": overhead, "ragged": ragged, "accuracy": accuracy}


def plot_ragged(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    names = [r["lengths"].split(",")[0] for r in rows]
    x = range(len(rows))
    axes[0].bar([i - 0.2 for i in x], [r["epoch speed-up (CPU time)"] for r in rows],
                0.4, label="measured (CPU time)")
    axes[0].bar([i + 0.2 for i in x], [r["ideal (steps ratio)"] for r in rows], 0.4,
                label="ratio of steps processed")
    axes[0].axhline(2.0, color="k", ls="--", lw=0.8, label="target 2x")
    axes[0].set_xticks(list(x))
    axes[0].set_xticklabels(names, fontsize=8)
    axes[0].set_ylabel("epoch speed-up over global-max padding")
    axes[0].legend(fontsize=7)
    pad = lambda s: float(s.rstrip("%"))  # noqa: E731
    axes[1].bar([i - 0.2 for i in x], [pad(r["padding, global max"]) for r in rows],
                0.4, label="global max")
    axes[1].bar([i + 0.2 for i in x], [pad(r["padding, length-aware"]) for r in rows],
                0.4, label="length-aware")
    axes[1].set_xticks(list(x))
    axes[1].set_xticklabels(names, fontsize=8)
    axes[1].set_ylabel("padded steps / steps processed, %")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, small sizes")
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS),
                        default=list(SECTIONS))
    parser.add_argument("--output", default=RESULTS)
    parser.add_argument("--scaling", action="store_true",
                        help="also run benchmarks/scaling.py (issue 6) at the end")
    parser.add_argument("--panel", action="store_true",
                        help="also run benchmarks/panel.py --half both (issue 11) "
                             "at the end")
    args = parser.parse_args(argv)
    os.makedirs(args.output, exist_ok=True)
    set_threads(1)  # every section runs torch on one thread; say so in the header
    env = environment()
    start = time.perf_counter()
    parts, timings = [], []
    for name in args.only:
        t0 = time.perf_counter()
        if name == "accuracy":
            result = accuracy.run(quick=args.quick, plot_dir=args.output)
        else:
            result = SECTIONS[name].run(quick=args.quick)
            plot = overhead.plot if name == "overhead" else plot_ragged
            plot(result["rows"], os.path.join(args.output, f"{name}.png"))
        parts.append(result["markdown"] + f"\n![{name}]({name}.png)\n")
        timings.append({"section": name, "minutes": (time.perf_counter() - t0) / 60})
    header = [
        "# skhidden benchmarks (issue 3)\n",
        "Regenerate with `python benchmarks/run_all.py` (about 20 minutes on the "
        "machine below; `--quick` for a smoke run). Every speed figure is a ratio "
        "to a baseline measured in the same run, the median of interleaved "
        "repeats; no absolute time is asserted anywhere.\n",
        "Machine and versions:\n",
        markdown_table([env]),
        f"Machine line used on every row: {machine_line(env)}. No GPU was used"
        " (none on this machine).\n",
        markdown_table(timings),
    ]
    if args.quick:
        header.append("**QUICK RUN: sizes and epochs cut down; the numbers are not "
                      "meaningful.**\n")
    report = "\n".join(header + parts)
    path = os.path.join(args.output, "report.md")
    with open(path, "w") as f:
        f.write(report)
    print(f"wrote {path} in {(time.perf_counter() - start) / 60:.1f} min")
    scaling = os.path.join(HERE, "scaling.py")
    if args.scaling and os.path.exists(scaling):
        subprocess.run([sys.executable, scaling], check=False)
    if args.panel:
        command = [sys.executable, os.path.join(HERE, "panel.py"), "--half", "both"]
        subprocess.run(command + ["--quick"] * args.quick, check=False)


if __name__ == "__main__":
    main()
