"""Sphinx directives of the skseals docs: API listings, CLI help, benchmark tables.

- ``.. skseals-api:: MODULE`` documents every name in ``MODULE.__all__``: a
  summary table, then ``autoclass`` / ``autofunction`` for each class and
  function, and ``py:data`` for each constant: its value (numbers, strings,
  tuples of them, alias tables) and the ``#:`` comment above its assignment,
  found in the module or the submodule that assigns it (a constant without
  one is a warning). A public name added to a module appears in the
  reference without editing the docs, and ``tests/test_docs.py`` checks that
  none is missing.
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
import sys
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


def _data_doc(module, name):
    """The ``#:`` comment of the constant ``module.name``, as a list of lines.

    ``autodata`` looks for it in the module it documents, but a package
    re-exports its constants from the submodule that assigns them (and the
    object itself, an ``int`` or a ``tuple``, carries its type's docstring).
    So look in the module, then in its submodules that hold the same object;
    ``[]`` when none has a comment for it.
    """
    from sphinx.errors import PycodeError
    from sphinx.pycode import ModuleAnalyzer

    obj = getattr(module, name)
    prefix = module.__name__ + "."
    candidates = [module.__name__] + sorted(
        m
        for m, mod in list(sys.modules.items())
        if m.startswith(prefix) and getattr(mod, name, None) is obj
    )
    for modname in candidates:
        try:
            docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
        except PycodeError:
            continue
        lines = docs.get(("", name))
        if lines and any(line.strip() for line in lines):
            return list(lines)
    return []


def _data_value(obj):
    """The value of a constant as shown after its name, or None to show none.

    Numbers, strings and tuples of them are shown as ``repr``; an alias table
    (a dict of strings to classes) as ``{'alias': ClassName, ...}``.
    """
    simple = (int, float, str, bool)
    if isinstance(obj, simple):
        return repr(obj)
    if isinstance(obj, tuple) and all(isinstance(v, simple) for v in obj):
        return repr(obj)
    if isinstance(obj, dict) and all(
        isinstance(k, str) and inspect.isclass(v) for k, v in obj.items()
    ):
        return "{" + ", ".join(f"{k!r}: {v.__name__}" for k, v in obj.items()) + "}"
    return None


def _data_summary(lines):
    """The first sentence of a ``#:`` comment, for the summary table."""
    text = " ".join(" ".join(lines).split())
    sentence = re.split(r"(?<=\.)\s", text, maxsplit=1)[0]
    return sentence.replace("|", "\\|") or "Constant."


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
            if _kind(obj) == "data":
                summary = _data_summary(_data_doc(module, name))
            else:
                summary = _first_line(obj)
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
                doc = _data_doc(module, name)
                if not doc:
                    self.state.document.reporter.warning(
                        f"{modname}.{name} has no '#:' comment above its "
                        "assignment: write one, it is the constant's documentation",
                        line=self.lineno,
                    )
                lines.append(f".. py:data:: {name}")
                value = _data_value(obj)
                if value is not None:
                    lines.append(f"   :value: {value}")
                lines.append("")
                lines += [f"   {line}" if line.strip() else "" for line in doc]
                lines.append("")
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
