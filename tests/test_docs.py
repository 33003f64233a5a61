"""The examples in README.md and the modules' docstrings run and print what they show."""
import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

import fpkernels

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_examples_run():
    if not README.exists():
        pytest.skip("README.md is not beside the tests")
    failures, tried = doctest.testfile(str(README), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0


MODULES = sorted(name for _, name, _ in pkgutil.walk_packages(fpkernels.__path__, "fpkernels.")
                 if name not in ("fpkernels.__main__", "fpkernels.demo"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    failures, _ = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert failures == 0


def test_readme_shows_the_tested_tutorial_code():
    tutorial = README.parent / "docs" / "tutorial.md"
    if not tutorial.exists():
        pytest.skip("docs/ is not beside the tests")
    code = tutorial.read_text().split("```python\n")[1].split("```")[0]
    assert code in README.read_text()  # tests/test_demo.py runs the tutorial's copy
