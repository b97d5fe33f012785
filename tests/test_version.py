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


def test_annotations_evaluated_at_import_run_on_python_39():
    """requires-python is >= 3.9, where `X | Y` in an annotation that is evaluated at import
    (a module without `from __future__ import annotations`) raises TypeError: such unions may
    only appear under `if sys.version_info >= (3, 10):` (fastinit.torch's aliases)."""
    import ast

    package = pathlib.Path(fastinit.__file__).resolve().parent
    offenders = []
    for path in sorted(package.glob("*.py")):
        tree = ast.parse(path.read_text())
        if any(isinstance(node, ast.ImportFrom) and node.module == "__future__"
               and any(a.name == "annotations" for a in node.names) for node in tree.body):
            continue
        guarded = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "version_info" in ast.unparse(node.test):
                guarded.update(id(n) for n in ast.walk(node))
        annotations = []
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                args += [a for a in (node.args.vararg, node.args.kwarg) if a is not None]
                annotations += [a.annotation for a in args if a.annotation is not None]
                if node.returns is not None:
                    annotations.append(node.returns)
            elif isinstance(node, ast.AnnAssign) and id(node) not in guarded:
                annotations.append(node.annotation)
                if node.value is not None:
                    annotations.append(node.value)
        for ann in annotations:
            if any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr) for n in ast.walk(ann)):
                offenders.append(f"{path.name}:{ann.lineno}: {ast.unparse(ann)}")
    assert not offenders, "PEP 604 unions evaluated at import (TypeError on 3.9): " + str(offenders)
