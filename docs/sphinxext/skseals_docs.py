"""Sphinx directives of the skseals docs: API listings, CLI help, benchmark tables.

- ``.. skseals-api:: MODULE`` documents every name in ``MODULE.__all__``: a
  summary table, then ``autoclass`` / ``autofunction`` / ``autodata`` for each.
  A public name added to a module appears in the reference without editing
  the docs, and ``tests/test_docs.py`` checks that none is missing.
- ``.. skseals-cli-help:: COMMAND`` prints the ``--help`` of ``skseals COMMAND``
  (no argument: of ``skseals``), so the CLI page never drifts from the parser.
- ``.. skseals-results:: KEYWORD [KEYWORD ...]`` includes the sections of
  ``benchmarks/RESULTS.md`` whose ``##`` heading contains a keyword (parsed as
  Markdown with MyST), or a note saying where the numbers will appear when the
  file has no such section yet.
"""

from __future__ import annotations

import importlib
import inspect
import io
import os
import re
from contextlib import redirect_stdout

from docutils import nodes, utils
from docutils.parsers.rst import Directive, directives
from docutils.statemachine import StringList

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS = os.path.join(ROOT, "benchmarks", "RESULTS.md")


def _first_line(obj):
    doc = inspect.getdoc(obj) or ""
    line = doc.strip().split("\n\n")[0].replace("\n", " ").strip()
    return line.replace("|", "\\|")


def _kind(obj):
    if inspect.isclass(obj):
        return "class"
    if callable(obj):
        return "function"
    return "data"


class ApiDirective(Directive):
    """Document every public name of a module (its ``__all__``)."""

    required_arguments = 1
    has_content = False

    def run(self):
        modname = self.arguments[0]
        module = importlib.import_module(modname)
        names = [n for n in module.__all__ if not n.startswith("__")]
        lines = [
            f".. currentmodule:: {modname}",
            "",
            ".. list-table::",
            "   :widths: 30 70",
            "",
        ]
        for name in names:
            obj = getattr(module, name)
            role = {"class": "class", "function": "func", "data": "data"}[_kind(obj)]
            summary = _first_line(obj) if _kind(obj) != "data" else "Constant."
            lines += [f"   * - :{role}:`{name}`", f"     - {summary}"]
        lines.append("")
        for name in names:
            obj = getattr(module, name)
            kind = _kind(obj)
            if kind == "class":
                lines += [
                    f".. autoclass:: {name}",
                    "   :members:",
                    "   :inherited-members:",
                    "",
                ]
            elif kind == "function":
                lines += [f".. autofunction:: {name}", ""]
            else:
                lines += [f".. autodata:: {name}", "   :annotation:", ""]
        node = nodes.section()
        node.document = self.state.document
        self.state.nested_parse(StringList(lines, source=f"<api {modname}>"), 0, node)
        return node.children


class CliHelpDirective(Directive):
    """The ``--help`` text of ``skseals [COMMAND]`` as a literal block."""

    optional_arguments = 1

    def run(self):
        from skseals._cli._parser import build_parser

        argv = [*self.arguments, "--help"]
        buf = io.StringIO()
        os.environ["COLUMNS"] = "88"
        with redirect_stdout(buf):
            try:
                build_parser().parse_args(argv)
            except SystemExit:
                pass
        text = buf.getvalue().rstrip()
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def _results_sections(keywords):
    """Sections (``## ...`` to the next ``## ``) whose heading has a keyword."""
    if not os.path.exists(RESULTS):
        return []
    with open(RESULTS, encoding="utf-8") as f:
        text = f.read()
    parts = re.split(r"(?m)^(?=## )", text)
    found = []
    for part in parts:
        if not part.startswith("## "):
            continue
        heading = part.splitlines()[0][3:].lower()
        if any(k.lower() in heading for k in keywords):
            found.append(part)
    return found


class ResultsDirective(Directive):
    """Include sections of benchmarks/RESULTS.md, or say where they will be."""

    required_arguments = 1
    final_argument_whitespace = True
    option_spec = {"missing": directives.unchanged}

    def run(self):
        keywords = [k.strip() for k in self.arguments[0].split(",") if k.strip()]
        sections = _results_sections(keywords)
        env = self.state.document.settings.env
        env.note_dependency(RESULTS)
        if not sections:
            text = self.options.get(
                "missing",
                f"``benchmarks/RESULTS.md`` has no section on {', '.join(keywords)} "
                "yet; it will appear here once the benchmark has been run.",
            )
            note = nodes.note()
            self.state.nested_parse(StringList([text]), 0, note)
            return [note]
        # Demote "## Heading" to a rubric-free sub-heading of the page: the
        # sections become "###" so that they nest under the including page.
        body = "\n".join(re.sub(r"(?m)^(#{2,5}) ", r"#\1 ", s) for s in sections)
        body = "# Results\n\n" + body  # a top heading for MyST; dropped below
        from myst_parser.parsers.sphinx_ import MystParser

        document = utils.new_document(RESULTS, self.state.document.settings)
        MystParser().parse(body, document)
        section = document.children[0]
        return section.children[1:]  # skip the "Results" title


def _skip_foreign_member(app, what, name, obj, skip, options):
    """Document a class's own members, not those inherited from scikit-learn.

    ``ActiveLearner`` gets ``fit``/``query``/``teach`` from a private base
    class, so the API pages use ``:inherited-members:``; this keeps out what
    comes from outside skseals (``get_metadata_routing``, ``set_*_request``,
    ``score``, ``get_params``...), which scikit-learn documents.
    """
    if skip or what != "class":
        return skip
    target = getattr(obj, "fget", obj)  # properties
    module = getattr(target, "__module__", None) or ""
    if module and not module.startswith("skseals"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_member)
    app.add_directive("skseals-api", ApiDirective)
    app.add_directive("skseals-cli-help", CliHelpDirective)
    app.add_directive("skseals-results", ResultsDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
