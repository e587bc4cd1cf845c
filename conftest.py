"""Run the documentation's code blocks as tests, as a reader would run them.

README.md: pytest-markdown-docs collects every fenced Python block
(``python notest`` is not run, ``python continuation`` continues the block
before it); the fixture below gives each one an empty directory and Agg.

docs/**/*.rst: the small collector below runs every Python block of the
documentation pages the same way. A Python block is a
``.. code-block:: python`` (or ``py``, ``python3``; ``.. code::`` and
``.. sourcecode::`` alike), a ``.. code-block::`` without a language, and a
bare ``::`` literal block (Sphinx highlights both as Python); a block in any
other language (``bash``, ``text``, ``none``, ``pycon``) is not run. An rst
comment on the lines just above a block changes what happens to it::

    .. notest

    .. code-block:: python

       ...                          # shown, never run (a cluster, a GPU)

    .. continuation

    .. code-block:: python

       ...                          # runs after the page's previous block

A block runs in a fresh namespace in an empty temporary directory (the
blocks write model files) with matplotlib's Agg backend; a continued block
runs its chain from the first block of the chain in one namespace, so each
test stands alone (``-k`` may select any one of them). Tracebacks point into
the .rst file at the block's own lines. Generated pages (``docs/_build``,
``docs/generated``, ``docs/auto_examples``, templates under ``docs/_*``) and
the Python files of ``docs/`` are not collected.
"""

import os
import re
import tempfile
import textwrap
import traceback
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
DOCS = ROOT / "docs"
MARKER = "docs_block"

collect_ignore_glob = [
    "docs/*.py",  # Sphinx's conf.py and image scripts: not tests
    "docs/_*",  # _build, _templates (jinja, not rst)
    "docs/generated",
    "docs/auto_examples",  # sphinx-gallery's copies of examples/
    "docs/sg_execution_times.rst",
]

_PYTHON = {"", "python", "py", "python3"}
_DIRECTIVE = re.compile(
    r"^(?P<indent> *)\.\. (?:code-block|code|sourcecode)::[ \t]*(?P<lang>\S*)[ \t]*$"
)
_EXPLICIT = re.compile(r"^ *\.\. ")
_COMMENT = re.compile(r"^ *\.\. (?P<word>notest|continuation)[ \t]*$")


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def _body(lines, start, indent, allow_options):
    """The block's code, dedented, and its first line (1-based), or None.

    ``lines[start]`` is the first line after the directive or ``::``; the
    body is every following line indented more than ``indent`` (blank lines
    included), options (``:name: value``) first for a directive.
    """
    i = start
    if allow_options:
        while (
            i < len(lines)
            and lines[i].strip().startswith(":")
            and _indent(lines[i]) > indent
        ):
            i += 1
    end = i
    while end < len(lines) and (not lines[end].strip() or _indent(lines[end]) > indent):
        end += 1
    body = lines[i:end]
    while body and not body[0].strip():
        body.pop(0)
        i += 1
    while body and not body[-1].strip():
        body.pop()
    if not body:
        return None, i, end
    return textwrap.dedent("\n".join(body)) + "\n", i + 1, end


def _marker(lines, index):
    """``notest``, ``continuation`` or None: the comment just above ``lines[index]``."""
    i = index - 1
    while i >= 0 and not lines[i].strip():
        i -= 1
    match = _COMMENT.match(lines[i]) if i >= 0 else None
    return match["word"] if match else None


def extract_blocks(text):
    """``(first_line, code, marker)`` for each Python block of an rst page."""
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        line = lines[i]
        directive = _DIRECTIVE.match(line)
        literal = (
            not directive and not _EXPLICIT.match(line) and line.rstrip().endswith("::")
        )
        if not (directive or literal):
            i += 1
            continue
        indent = _indent(line)
        code, first, end = _body(lines, i + 1, indent, allow_options=bool(directive))
        is_python = literal or directive["lang"].lower() in _PYTHON
        if code is not None and is_python:
            blocks.append((first, code, _marker(lines, i)))
        i = max(end, i + 1)
    return blocks


def pytest_configure(config):
    config.addinivalue_line(
        "markers", f"{MARKER}: a Python block of a docs/ page (see conftest.py)"
    )


def pytest_collect_file(file_path, parent):
    path = Path(file_path).resolve()
    if path.suffix == ".rst" and DOCS in path.parents:
        return RstPage.from_parent(parent, path=path)
    return None


class RstPage(pytest.File):
    def collect(self):
        chain = []
        for first, code, marker in extract_blocks(self.path.read_text("utf8")):
            if marker == "notest":
                continue
            if marker == "continuation":
                if not chain:
                    raise ValueError(
                        f"{self.path}:{first}: a `.. continuation` block continues "
                        "no block before it"
                    )
                chain = [*chain, (first, code)]
            else:
                chain = [(first, code)]
            yield RstBlock.from_parent(self, name=f"line {first}", chain=chain)


class RstBlock(pytest.Item):
    def __init__(self, *, chain, **kwargs):
        super().__init__(**kwargs)
        self.chain = chain
        self.first_line = chain[-1][0]
        self.add_marker(MARKER)

    def runtest(self):
        namespace = types.ModuleType("docs_block").__dict__
        old = os.getcwd()
        with tempfile.TemporaryDirectory(prefix="docs-block-") as tmp:
            os.chdir(tmp)
            try:
                _use_agg()
                for first, code in self.chain:
                    # Padded so the code's line numbers are the page's.
                    source = "\n" * (first - 1) + code
                    exec(compile(source, str(self.path), "exec"), namespace)
            finally:
                os.chdir(old)
                _close_figures()

    def repr_failure(self, excinfo, style=None):
        tb = excinfo.tb
        while tb is not None and tb.tb_frame.f_code.co_filename != str(self.path):
            tb = tb.tb_next
        lines = traceback.format_exception(
            excinfo.type, excinfo.value, tb or excinfo.tb
        )
        header = f"{self.path}:{self.first_line}: the code block failed\n"
        return header + "".join(lines)

    def reportinfo(self):
        return self.path, self.first_line - 1, f"{self.path.name}, block at {self.name}"


def _use_agg():
    try:
        import matplotlib
    except ImportError:
        return
    matplotlib.use("Agg")


def _close_figures():
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture(autouse=True)
def _readme_block_in_empty_directory(request, tmp_path, monkeypatch):
    if request.node.get_closest_marker("markdown-docs") is None:
        yield
        return
    monkeypatch.chdir(tmp_path)
    _use_agg()
    yield
    _close_figures()
