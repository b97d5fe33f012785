"""The fastinit command line. Each subcommand lives in its own module and registers itself
here with ``add_parser(subparsers)``; heavy imports happen only when it runs."""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fastinit",
        description="fastinit: fast, reproducible neural-network weight initialization",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    from . import _bench

    _bench.add_parser(sub)
    from . import _diagnostics_cli

    _diagnostics_cli.add_parser(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
