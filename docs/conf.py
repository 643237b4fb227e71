"""Sphinx configuration of the art-ext documentation."""
import os
import sys
import warnings

sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", message="PyTorch not found")

import art_ext  # noqa: E402

project = "art-ext"
author = "art-ext developers"
release = version = art_ext.__version__
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode", "sphinx.ext.intersphinx",
              "sphinx.ext.mathjax"]
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_typehints = "none"
intersphinx_mapping = {}
html_theme = "furo"
html_static_path = ["_static"]
html_title = f"art-ext {release}"
exclude_patterns = ["_build"]
nitpicky = False
