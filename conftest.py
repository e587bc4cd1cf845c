"""Fixtures for the code blocks of README.md, which pytest-markdown-docs runs.

The blocks are run as a reader would run them, each in a fresh empty
directory (they write model files), drawing without a display.
"""

import pytest


@pytest.fixture(autouse=True)
def _readme_block_in_empty_directory(request, tmp_path, monkeypatch):
    if request.node.get_closest_marker("markdown-docs") is None:
        yield
        return
    monkeypatch.chdir(tmp_path)
    try:
        import matplotlib
    except ImportError:
        yield
        return
    matplotlib.use("Agg")
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
