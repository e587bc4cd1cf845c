"""The collector in the root conftest.py that runs the docs/ pages' code blocks."""

import importlib.util
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


@pytest.fixture(scope="module")
def collector():
    spec = importlib.util.spec_from_file_location("docs_collector", ROOT_CONFTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PAGE = """\
Title
=====

.. code-block:: python
   :caption: options are skipped

   a = 1

   b = a + 1

.. code-block:: bash

   ls -l

A paragraph ending in a literal block::

    c = 3

.. notest

.. code-block:: python

   raise RuntimeError("never run")

- a list item

  .. continuation

  .. code-block:: python

     assert c == 3    # continues the block above the notest one

.. autosummary::
   :toctree: generated/

   some_function

.. code-block:: text

   not Python
"""


def test_python_blocks_and_their_markers_are_found(collector):
    blocks = collector.extract_blocks(PAGE)
    assert blocks == [
        (7, "a = 1\n\nb = a + 1\n", None),
        (17, "c = 3\n", None),
        (23, 'raise RuntimeError("never run")\n', "notest"),
        (
            31,
            "assert c == 3    # continues the block above the notest one\n",
            "continuation",
        ),
    ]


def test_blocks_run_in_order_in_empty_directories(pytester):
    pytester.makeconftest(ROOT_CONFTEST.read_text())
    docs = pytester.mkdir("docs")
    (docs / "page.rst").write_text(
        PAGE
        + textwrap.dedent(
            """
            .. code-block:: python

               import os
               assert os.listdir() == []          # a fresh, empty directory
               open("model.bin", "w").close()
               assert "a" not in globals()        # a fresh namespace

            .. code-block:: python

               x = 1
               1 / 0                              # the failing line

            .. continuation

            .. code-block:: python

               assert x == 1
            """
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "docs")
    # a/b, c, its continuation, the directory check, the failure and the
    # continuation of the failure (which fails at the same line).
    result.assert_outcomes(passed=4, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*page.rst:51: the code block failed",
            "*page.rst:58: the code block failed",
            "FAILED docs/page.rst::line 51*",
            "FAILED docs/page.rst::line 58*",
        ]
    )
    # The traceback points at the page's own line, not at the collector.
    result.stdout.fnmatch_lines(['*File "*page.rst", line 52, in <module>', "*1 / 0*"])
    result.stdout.no_fnmatch_line("*conftest.py*")
    result.stdout.no_fnmatch_line("*never run*")


def test_a_continuation_without_a_block_before_it_is_an_error(pytester):
    pytester.makeconftest(ROOT_CONFTEST.read_text())
    docs = pytester.mkdir("docs")
    page = ".. continuation\n\n.. code-block:: python\n\n   x = 1\n"
    (docs / "page.rst").write_text(page)
    result = pytester.runpytest("-p", "no:cacheprovider", "docs")
    result.stdout.fnmatch_lines(["*continues no block before it*"])
    assert result.ret != 0


def test_generated_pages_and_docs_python_files_are_not_collected(pytester):
    pytester.makeconftest(ROOT_CONFTEST.read_text())
    for folder in ["_build/html", "_templates", "generated", "auto_examples"]:
        path = pytester.path / "docs" / folder
        path.mkdir(parents=True)
        (path / "page.rst").write_text(".. code-block:: python\n\n   1 / 0\n")
    # pytest-markdown-docs would import it for its docstrings: Sphinx's conf.py.
    (pytester.path / "docs" / "conf.py").write_text("raise RuntimeError('imported')\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--markdown-docs", "docs")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED, result.stdout.str()
