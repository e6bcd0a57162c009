"""Run every benchmark and write ``benches/RESULTS.md``.

Run: ``python benches/run_all.py [--quick] [--only NAME ...]``. Each benchmark writes
its own ``benches/results/NAME.md`` (figures beside their same-run baselines, the
machine and the date); this script runs them one after another on an otherwise idle
machine and assembles the report. ``--quick`` uses small sizes for a smoke run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# name -> (full arguments, quick arguments)
BENCHES: dict[str, tuple[list[str], list[str]]] = {
    "crypto": (["--mb", "256"], ["--mb", "16"]),
    "log": ([], ["--leaves", "50000", "--samples", "2000"]),
    "store": ([], ["--cid-mib", "16", "--objects", "5"]),
    "pipeline": (["--count", "50"], ["--count", "5"]),
    "embedded_chain": (
        ["--out", str(RESULTS / "embedded_chain.md")],
        ["--txs", "50", "--blocks", "200", "--out", str(RESULTS / "embedded_chain.md")],
    ),
    "anchoring": (["--seconds", "10"], ["--seconds", "2", "--txs", "20"]),
    "gas_estimate": (
        ["--out", str(RESULTS / "gas_estimate.md")],
        ["--anchors", "10", "--out", str(RESULTS / "gas_estimate.md")],
    ),
    "audit": ([], ["--entries", "20000", "--materials", "4"]),
    "load": (["--seconds", "60"], ["--seconds", "5", "--materials", "4"]),
    "transfer": (["--count", "150"], ["--count", "10"]),
    "backup": ([], ["--materials", "20", "--size-kb", "64", "--daily", "2"]),
    "reads": ([], ["--seconds", "5", "--raw-seconds", "2", "--materials", "4"]),
}
# Longer than a run of this script should take (city.py: ~8 min at its default sizes,
# PostgreSQL needed): run on their own; their last results are still assembled here.
SEPARATE = ("city",)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", nargs="*", default=list(BENCHES))
    args = ap.parse_args()
    for name in args.only:
        full, quick = BENCHES[name]
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        subprocess.run(
            [sys.executable, str(HERE / f"bench_{name}.py"), *(quick if args.quick else full)],
            check=True,
        )
        print(f"== {name}: {time.perf_counter() - t0:.0f} s", flush=True)
    parts = [
        "# Benchmark results\n\n"
        "Produced by `python benches/run_all.py`; every figure sits beside its baseline\n"
        "measured in the same run (this machine is shared and noisy, so ratios are the\n"
        "figures to compare across runs). Each section names its machine and date.\n"
    ]
    for name in (*BENCHES, *SEPARATE):
        path = RESULTS / f"{name}.md"
        if path.exists():
            body = path.read_text(encoding="utf-8").strip()
            parts.append("\n" + body.replace("\n# ", "\n## ").replace("# ", "## ", 1) + "\n")
    (HERE / "RESULTS.md").write_text("".join(parts), encoding="utf-8")
    print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
