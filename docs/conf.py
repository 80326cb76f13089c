"""Sphinx configuration of the skseals documentation (see docs/README.md)."""

import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "sphinxext"))
sys.path.insert(0, ROOT)

# The gallery runs in this process. One OpenMP / BLAS thread per library keeps
# faiss and numpy from oversubscribing a small (or shared) machine; export the
# variables yourself to override.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import skseals  # noqa: E402

project = "skseals"
author = "the skseals developers"
copyright = "the skseals developers"  # noqa: A001
version = release = skseals.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "skseals_docs",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "README.md", "sg_execution_times.rst"]
templates_path = []

# -- autodoc / numpydoc ---------------------------------------------------------
autodoc_default_options = {"member-order": "groupwise"}
autodoc_typehints = "none"  # numpydoc sections carry the types
autodoc_class_signature = "mixed"
numpydoc_show_class_members = False  # autodoc :members: lists them instead
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# -- warnings -----------------------------------------------------------------
# No intersphinx: the build runs offline (CI has no internet), and a missing
# inventory would be a warning, i.e. an error under -W.
suppress_warnings = [
    "myst.header",  # benchmarks/RESULTS.md starts at "##"
    "myst.xref_missing",  # RESULTS.md links files of the repository
    "config.cache",  # sphinx-gallery's callables in the config
]

# -- gallery ------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": os.path.join(ROOT, "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "reference_url": {"skseals": None},
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "show_memory": False,
    "abort_on_example_error": True,
    "default_thumb_file": None,
}

# -- HTML ---------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skseals {version}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 8,
}
html_show_sourcelink = False

warnings.filterwarnings("ignore", category=UserWarning, message=".*non-interactive.*")
