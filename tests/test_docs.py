"""The documentation builds with warnings as errors and documents every public name.

The build runs without executing the gallery (``-D plot_gallery=0``):
``tests/test_examples.py`` runs every example as a script already. Skipped
when the docs tools are not installed (``pip install -e ".[docs]"``).
"""

import html as html_lib
import importlib
import pkgutil
import re
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest

for _tool in ("sphinx", "numpydoc", "sphinx_gallery", "myst_parser",
              "pydata_sphinx_theme"):  # fmt: skip
    pytest.importorskip(_tool)

import skseals  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _public_modules():
    """``skseals`` and every public sub-module (no leading underscore)."""
    names = ["skseals"]
    for info in pkgutil.iter_modules(skseals.__path__, "skseals."):
        if not info.name.rsplit(".", 1)[1].startswith("_"):
            names.append(info.name)
    return names


def _page(module):
    return "skseals" if module == "skseals" else module.split(".", 1)[1]


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
         "-D", "plot_gallery=0", "-d", str(out / "doctrees"), str(DOCS),
         str(out / "html")],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, f"docs build failed:\n{proc.stderr[-6000:]}"
    return out / "html"


def test_every_public_module_has_an_api_page(html):
    for module in _public_modules():
        assert (DOCS / "api" / f"{_page(module)}.rst").exists(), (
            f"public module {module} has no docs/api page: add one (with "
            f"'.. skseals-api:: {module}') and list it in docs/api/index.rst"
        )
        assert (html / "api" / f"{_page(module)}.html").exists()


@pytest.mark.parametrize("module", _public_modules())
def test_api_page_lists_every_public_name(html, module):
    page = (html / "api" / f"{_page(module)}.html").read_text(encoding="utf-8")
    mod = importlib.import_module(module)
    names = [n for n in getattr(mod, "__all__", []) if not n.startswith("__")]
    assert names, f"{module} has no __all__"
    missing = [n for n in names if f'id="{module}.{n}"' not in page]
    assert not missing, f"{module}: not documented on its API page: {missing}"


def test_user_guide_gallery_and_pages(html):
    index = (html / "index.html").read_text(encoding="utf-8")
    for page in ("install", "user_guide/index", "auto_examples/index", "cli",
                 "api/index", "benchmarks", "results", "citing"):  # fmt: skip
        assert f'href="{page}.html"' in index, page
    guide = (html / "user_guide" / "index.html").read_text(encoding="utf-8")
    for page in ("loop", "pools_strategies", "learning_vs_search", "backends",
                 "tight_budget", "separate_features", "sessions", "labeling",
                 "scaling"):  # fmt: skip
        assert f'href="{page}.html"' in guide, page
    gallery = (html / "auto_examples" / "index.html").read_text(encoding="utf-8")
    for script in sorted((ROOT / "examples").glob("plot_*.py")):
        assert f"{script.stem}.html" in gallery, script.name
    # the generated bad-input table, included as it is
    bad = (html / "bad_inputs.html").read_text(encoding="utf-8")
    assert "InvalidParameterError" in bad


def test_cli_page_shows_every_command(html):
    text = re.sub(r"<[^>]+>", "", (html / "cli.html").read_text(encoding="utf-8"))
    for command in ("demo", "bench", "structure", "label"):
        assert f"usage: skseals {command}" in text, command


def test_install_page_has_the_readme_set_up_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    install = (DOCS / "install.rst").read_text(encoding="utf-8")
    commands = [
        b.strip()
        for b in re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
        if b.strip().endswith(("skseals demo", "pytest"))
    ]
    assert len(commands) == 2
    for command in commands:
        assert command in install, f"docs/install.rst lacks the README's {command!r}"


def _cells(text):
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>|[`*]", " ", text)).split())


@pytest.mark.parametrize(
    ("page", "keywords"),
    [
        ("user_guide/backends.html", ["backend"]),
        ("benchmarks.html", ["label efficiency", "table 2"]),
    ],
)
def test_benchmark_sections_render_as_tables(html, page, keywords):
    """Every table of the RESULTS.md sections a page includes is an HTML table."""
    sys.path.insert(0, str(DOCS / "sphinxext"))
    try:
        from skseals_docs import _results_sections
    finally:
        sys.path.remove(str(DOCS / "sphinxext"))
    sections = _results_sections(keywords)
    if not sections:
        pytest.skip(f"benchmarks/RESULTS.md has no section on {keywords}")
    headers = [
        _cells(line.replace("|", " "))
        for section in sections
        for line, rule in pairwise(section.splitlines())
        if rule.startswith("|---")
    ]
    text = (html / page).read_text(encoding="utf-8")
    rendered = [
        _cells(re.search(r"<tr.*?</tr>", table, flags=re.S).group(0))
        for table in re.findall(r"<table.*?</table>", text, flags=re.S)
    ]
    missing = [h for h in headers if h not in rendered]
    assert headers and not missing, f"{page}: tables not rendered: {missing}"
    assert "|---" not in text, f"{page}: a Markdown table was left as text"
