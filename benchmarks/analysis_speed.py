"""Throughput of search.analysis.tokenize on the CSL 2k abstracts.

Usage: python benchmarks/analysis_speed.py [records.jsonl]

Reports the one-off cost of the first call (jieba dictionary + domain dictionary + OpenCC
tables) separately, then documents and tokens per second over the abstracts (a few hundred
characters each, like a listing's summary + description).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from search import analysis  # noqa: E402

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared/datasets/csl-2k/records.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3, help="passes over the corpus; best is reported")
    args = parser.parse_args()

    with args.records.open(encoding="utf-8") as f:
        texts = [json.loads(line)["abstract"] for line in f]
    chars = sum(map(len, texts))

    start = time.perf_counter()
    analysis.tokenize("预热：加载词典")
    load = time.perf_counter() - start
    print(f"first call (dictionary load): {load:.2f} s")

    best = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        tokens = sum(len(analysis.tokenize(t)) for t in texts)
        best = min(best, time.perf_counter() - start)
    print(f"{len(texts)} docs, {chars} chars, {tokens} tokens; best of {args.repeat}: {best:.2f} s")
    print(f"{len(texts) / best:,.0f} docs/s, {tokens / best:,.0f} tokens/s, {chars / best / 1e6:.2f} M chars/s")

    start = time.perf_counter()
    grams = sum(len(analysis.bigrams(t)) for t in texts)
    took = time.perf_counter() - start
    print(f"bigrams: {len(texts) / took:,.0f} docs/s, {grams / took:,.0f} grams/s")


if __name__ == "__main__":
    main()
