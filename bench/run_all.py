"""`make bench`: run every benchmark in this folder, one after the other, and print their figures.

Each benchmark measures its own baseline in the same run and prints both; none fails on timing.
Extra arguments are passed to every benchmark (e.g. `make bench BENCH_ARGS="--quick"`).
"""

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["api_read.py", "callback_claim.py", "fanout.py"]


def main() -> int:
    extra = os.environ.get("BENCH_ARGS", "").split()
    failed = []
    for name in ORDER:
        script = HERE / name
        if not script.exists():
            continue
        print(f"\n=== {name} ===", flush=True)
        code = subprocess.call([sys.executable, str(script), *extra], cwd=HERE.parent)
        if code:
            failed.append(name)
    if failed:
        print("benchmarks that did not finish:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
