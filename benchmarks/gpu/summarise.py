"""The table of a GPU check (benchmarks/gpu/run.sh): one row per timed run of bench_epoch.py, then the stages.

    python benchmarks/gpu/summarise.py bench.jsonl stages.tsv [--out summary.md]
"""
from __future__ import annotations

import argparse
import json
import os


def fmt(value, spec):
    return "-" if value is None else format(value, spec)


def table(runs):
    lines = ["| tool | backend | Adam | threads | batch | timed trials | samples/s | SHD epoch (s) | test accuracy "
             "| peak GPU MiB | build (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in runs:
        if r.get("build_only"):
            continue
        acc = r.get("test_accuracy")
        lines.append(f"| {r['tool']} | {r['backend']} | {r['adam']} | {r.get('threads') or '-'} | {r['batch']} "
                     f"| {r['trials']} | {fmt(r.get('samples_per_s'), '.1f')} | {fmt(r.get('shd_epoch_s'), '.1f')} "
                     f"| {'-' if acc is None else format(100 * acc, '.1f') + ' % of ' + str(r['test_trials'])} "
                     f"| {fmt(r.get('peak_gpu_mib'), '.0f')} | {fmt(r.get('build_s'), '.1f')} |")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bench")
    ap.add_argument("stages")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    runs = []
    if os.path.exists(args.bench):
        with open(args.bench) as f:
            runs = [json.loads(line) for line in f if line.strip()]
    lines = ["# GPU check: one SHD-sized epoch (700-256(recurrent)-20, dt 1 ms, 1,000 steps, 3,000 input spikes "
             "per trial)", "", "SHD epoch = 8,156 / (samples/s); accuracy after that one epoch on new trials.", ""]
    lines += table(runs) + ["", "## Stages", "", "| stage | status | seconds |", "|---|---|---|"]
    if os.path.exists(args.stages):
        with open(args.stages) as f:
            for row in list(f)[1:]:
                lines.append("| " + " | ".join(row.rstrip("\n").split("\t")) + " |")
    text = "\n".join(lines) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        print(text, end="")


if __name__ == "__main__":
    main()
