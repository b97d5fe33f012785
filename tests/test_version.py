"""The version lives in one place (pyproject.toml); the package reports the same one."""

import pathlib
import re

import fastinit


def test_version_matches_pyproject():
    pyproject = pathlib.Path(__file__).resolve().parents[1] / "pyproject.toml"
    if not pyproject.exists():  # tests run from an installed wheel without the source tree
        assert re.fullmatch(r"\d+\.\d+\.\d+", fastinit.__version__)
        return
    declared = re.search(r'^version = "([^"]+)"', pyproject.read_text(), re.M).group(1)
    assert fastinit.__version__ == declared


def test_import_does_not_import_frameworks():
    import subprocess
    import sys

    code = ("import sys, fastinit; bad = [m for m in ('torch', 'jax', 'keras', 'scipy') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
