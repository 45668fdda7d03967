"""Agreement of a run's NIR export with a real NIR client (Norse): the figures of docs/nir.md.

    python benchmarks/nir_client_check.py runs/fsdd --dt 1 0.1 0.01 --samples 16

Needs torch and norse (docs/nir.md: install torch's CPU wheel first, then norse and nirtorch without deps).
"""
import argparse

from genn_eventprop.nir_check import check_run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--dt", type=float, nargs="+", default=[1.0, 0.1], help="client time steps (ms)")
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--checkpoint", default="best", choices=["best", "last"])
    args = ap.parse_args()
    for result in check_run(args.run_dir, args.dt, args.samples, args.checkpoint):
        print(result.line(), flush=True)


if __name__ == "__main__":
    main()
