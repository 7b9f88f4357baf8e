"""``python -m xpiler.bench accuracy|perf ...`` (docs/benchmarks.md)."""

from __future__ import annotations

import argparse
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    from . import accuracy, perf
    parser = argparse.ArgumentParser(prog="python -m xpiler.bench",
                                     description="xpiler benchmarks: translation accuracy and program speed, "
                                                 "next to the published QiMeng-Xpiler figures")
    sub = parser.add_subparsers(dest="command", required=True)
    acc = sub.add_parser("accuracy", help="translate, compile and check every suite program in every direction")
    accuracy.add_arguments(acc)
    acc.set_defaults(main=accuracy.main)
    prf = sub.add_parser("perf", help="time programs against library baselines (PyTorch / numpy)")
    perf.add_arguments(prf)
    prf.set_defaults(main=perf.main)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.main(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:            # e.g. piped into `head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0


if __name__ == "__main__":
    sys.exit(main())
