"""Sphinx configuration of skhidden's documentation site.

Build from the repository root (the ``docs`` extra)::

    sphinx-build -W -b html docs docs/_build/html

The API reference is generated from the numpydoc docstrings (autosummary),
the gallery from ``examples/`` (sphinx-gallery runs every example and keeps
its figures). ``SKHIDDEN_EXAMPLE_EPOCHS`` sets the examples' training epochs;
``.ci/docs`` lowers it so the build stays quick.
"""

import importlib
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the source tree, before any installed copy

import skhidden  # noqa: E402

project = "skhidden"
author = "the skhidden developers"
copyright = "the skhidden developers, BSD-3-Clause"
version = release = skhidden.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.md5"]
root_doc = "index"
default_role = "literal"

# API reference: one page per public object, numpydoc sections.
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"
numpydoc_show_class_members = True
numpydoc_show_inherited_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "pydata_sphinx_theme"
html_title = f"skhidden {release}"
html_static_path = []
html_theme_options = {
    "navbar_end": ["navbar-icon-links"],
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"index": []}

# Gallery: the examples run at build time; their figures go into the pages.
sphinx_gallery_conf = {
    "examples_dirs": os.path.join(os.path.dirname(HERE), "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "backreferences_dir": None,
    "matplotlib_animations": False,
    "abort_on_example_error": True,
}

# ----------------------------------------------------------------------------
# Every public name must be in the API reference (issue 12): a name in one of
# these modules' __all__ that api.rst does not list is a build warning, so
# ``sphinx-build -W`` fails until it is documented.
PUBLIC_MODULES = [
    "skhidden",
    "skhidden.preprocessing",
    "skhidden.datasets",
    "skhidden.metrics",
    "skhidden.plotting",
    "skhidden.sequences",
    "skhidden.nn",
    "skhidden.nn.aggregation",
    "skhidden.nn.encoder",
    "skhidden.nn.ensemble",
    "skhidden.nn.frontend",
    "skhidden.nn.losses",
    "skhidden.nn.network",
    "skhidden.nn.scaling",
    "skhidden.nn.scoring",
    "skhidden.nn.stem",
    "skhidden.nn.streaming",
    "skhidden.demo",
]
NOT_OBJECTS = {"__version__"}  # a string, shown on the front page


def documented_names(text):
    """Fully qualified names listed in api.rst, under their ``currentmodule``."""
    names, module = set(), None
    for line in text.splitlines():
        match = re.match(r"\.\. (?:currentmodule|module|automodule):: (\S+)", line)
        if match:
            module = match.group(1)
            continue
        match = re.match(r"\s{3,}(~?[A-Za-z_][\w.]*)\s*$", line)
        if match and module:
            names.add(f"{module}.{match.group(1).lstrip('~')}")
        match = re.match(r"\.\. (?:auto)?(?:data|class|function):: (\S+)", line)
        if match:
            names.add(f"{module}.{match.group(1)}")
    return names


def missing_public_names():
    with open(os.path.join(HERE, "api.rst"), encoding="utf-8") as f:
        listed = documented_names(f.read())
    missing = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            if name in NOT_OBJECTS:
                continue
            obj = getattr(module, name)
            home = getattr(obj, "__module__", module_name)
            candidates = {f"{module_name}.{name}", f"{home}.{name}"}
            # A name re-exported by a package counts once documented anywhere.
            for other in PUBLIC_MODULES:
                if getattr(importlib.import_module(other), name, None) is obj:
                    candidates.add(f"{other}.{name}")
            if not candidates & listed:
                missing.append(f"{module_name}.{name}")
    return missing


def check_api_reference(app):
    from sphinx.util import logging

    logger = logging.getLogger("skhidden.api")
    for name in missing_public_names():
        logger.warning("public name %s is not in docs/api.rst", name)


def setup(app):
    app.connect("builder-inited", check_api_reference)
