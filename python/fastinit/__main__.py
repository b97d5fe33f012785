"""``python -m fastinit``: the command line (see ``python -m fastinit --help``)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
