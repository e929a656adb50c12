"""All benchmarks in one run, printing their tables (results in bench/results/*.json).

    .venv/bin/python bench/run.py            # quality, latency, scale (1k to 1M passages)
    .venv/bin/python bench/run.py --quick    # scale up to 100k passages, shorter load test
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import latency  # noqa: E402
import quality  # noqa: E402
import scale  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    quality.RESULTS.mkdir(exist_ok=True)

    rows = quality.run()
    (quality.RESULTS / "quality.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
    print("## Quality\n\n" + quality.table(rows) + "\n", flush=True)

    result = latency.run(100 if args.quick else 200, 10 if args.quick else 20)
    (latency.RESULTS / "latency.json").write_text(json.dumps(result, indent=1) + "\n")
    print("## Latency\n\n" + latency.tables(result) + "\n", flush=True)

    sizes = [1_000, 10_000, 100_000] if args.quick else [1_000, 10_000, 100_000, 1_000_000]
    result = scale.run(sizes, real_max=10_000)
    (scale.RESULTS / "scale.json").write_text(json.dumps(result["rows"], indent=1) + "\n")
    print("## Scale\n\n" + "\n".join(result["notes"]) + "\n\n" + scale.table(result["rows"]))


if __name__ == "__main__":
    main()
