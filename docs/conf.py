"""Sphinx configuration of the art-ext documentation."""

import importlib
import inspect
import os
import pkgutil
import sys
import warnings

sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", message="PyTorch not found")

from sphinx.util import logging as sphinx_logging  # noqa: E402
from sphinx.util.docstrings import prepare_docstring  # noqa: E402

import art_ext  # noqa: E402

project = "art-ext"
author = "art-ext developers"
release = version = art_ext.__version__
# Docstrings are reST in ART's style (``:param x:``), so no napoleon (it would read "Text (Sec. 4): ..." as a type).
extensions = ["sphinx.ext.autodoc", "sphinx.ext.viewcode", "sphinx.ext.mathjax"]
autodoc_member_order = "bysource"
autodoc_default_options = {"show-inheritance": True}
autodoc_typehints = "none"
html_theme = "furo"
html_static_path = ["_static"]
html_title = f"art-ext {release}"
# results/defaults_*.rst are fragments included by the "Defaults on unseen models" page, not pages of their own
exclude_patterns = ["_build", "results/defaults_*.rst"]

# Every cross-reference to an art-ext object must resolve (``-W`` makes a dangling one an error). The builds run
# offline, so there is no intersphinx inventory for ART, Keras, TensorFlow or NumPy: references into them (and to
# private base classes shown by ``show-inheritance``) are not checked.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(art|keras|tensorflow|tf|numpy|np|abc)(\..*)?"),
    (r"py:.*", r"(.*\.)?_[A-Za-z].*"),
]


def _constructor_docstring(app, what, name, obj, options, lines):
    """Append the constructor's docstring to a class's: ART-style classes document their parameters as
    ``:param:`` fields of ``__init__``, which autodoc would otherwise not show. Only a constructor written in
    art-ext counts (an inherited ART or Keras one documents other parameters)."""
    if what != "class":
        return
    for klass in inspect.getmro(obj):
        if "__init__" in vars(klass):
            doc = vars(klass)["__init__"].__doc__
            if klass.__module__.startswith("art_ext") and doc:
                lines.extend([""] + prepare_docstring(doc))
            return


def _public_bases(app, name, obj, options, bases):
    """Show a private base class (``_ExtendedLabelTrainer``) as its public bases, which a reader can look up."""
    public = []
    for base in bases:
        stack = [base]
        while stack:
            klass = stack.pop(0)
            if klass.__name__.startswith("_") and klass.__bases__ != (object,):
                stack[:0] = list(klass.__bases__)
            elif klass not in public:
                public.append(klass)
    bases[:] = public


def _public_names():
    """``package.name`` for every name in the ``__all__`` of an art-ext package (the reproductions and the CLI
    are not library API)."""
    for info in pkgutil.walk_packages(art_ext.__path__, "art_ext."):
        if not info.ispkg or info.name.startswith("art_ext.experiments"):
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", ()):
            yield f"{info.name}.{name}"


def _check_api_complete(app, env):
    """Warn about a public name the API reference does not document (``-W`` makes it an error)."""
    documented = env.get_domain("py").objects
    for name in _public_names():
        if name not in documented:
            sphinx_logging.getLogger(__name__).warning(
                f"{name} is public (in __all__) but not in the API reference: add its package to docs/api/"
            )


def setup(app):
    app.connect("autodoc-process-docstring", _constructor_docstring)
    app.connect("autodoc-process-bases", _public_bases)
    app.connect("env-check-consistency", _check_api_complete)
