"""The book's own Sphinx extension (issue 12).

What it does, each part small enough to read:

* ``literalinclude`` of a ``tmlbook`` file with ``:pyobject:`` shows the signature and
  the body *without docstrings* (the code that runs, minus its documentation), and
  adds a link to the object's entry in the API reference.
* ``chapters/api.md`` documents every public ``tmlbook`` module (autodoc +
  napoleon); ``public_modules`` is what a test checks it against.
* ``{tml-schedule}`` renders the course schedule L1-L16 from the directive's list of
  slots, ``_toc.yml`` (chapters ``lNN-*``) and the exercise masters
  (``exercises/wNN-*/wNN.md``), so the table cannot drift from the book.
* MathJax is served from the build (``_static/mathjax``), copied from the pinned
  ``django-static-mathjax`` wheel (MathJax 3.2.2, Apache-2.0): pages render math with
  no network.
* Launch buttons for MyST pages point at the executed ``.ipynb`` (Colab cannot open
  ``.md``); ``TML_REPOSITORY=owner/name`` overrides ``repository.url`` so a fork's
  publish workflow links to itself.
"""

from __future__ import annotations

import ast
import importlib
import os
import pkgutil
import re
import shutil
import textwrap
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.directives.code import LiteralInclude
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

LOG = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]
PACKAGE = "tmlbook"
MATHJAX_PARTS = ("tex-chtml.js", "input", "output", "ui", "a11y", "adaptors")


# ---------------------------------------------------------------- code without docs
def _docstring_lines(tree: ast.AST) -> list[tuple[int, int]]:
    """(first, last) 1-based line ranges of every def/class docstring in ``tree``."""
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                spans.append((body[0].lineno, body[0].end_lineno))
    return spans


def strip_docstrings(code: str) -> str:
    """``code`` (one def or class, possibly indented) without its docstrings.

    Only whole docstring lines are removed, so every other line is byte for byte the
    source that runs. A body that was only a docstring keeps nothing but its
    signature plus ``...``.
    """
    lines = code.splitlines()
    tree = ast.parse(textwrap.dedent(code))
    drop: set[int] = set()
    for first, last in _docstring_lines(tree):
        drop.update(range(first - 1, last))
    kept = [line for i, line in enumerate(lines) if i not in drop]
    # A blank line that followed a removed docstring is noise at the top of a body.
    out = []
    for line in kept:
        if not line.strip() and out and out[-1].rstrip().endswith(":"):
            continue
        out.append(line)
    text = "\n".join(out)
    try:
        ast.parse(textwrap.dedent(text))
    except SyntaxError:  # a def that held only its docstring
        text = "\n".join(out + [" " * 4 + "..."])
    return text + ("\n" if code.endswith("\n") else "")


def api_target(filename: str, pyobject: str) -> str | None:
    """``tmlbook.mod.obj`` for ``../tmlbook/mod.py`` + ``obj``; None if not public."""
    path = Path(filename)
    parts = path.with_suffix("").parts
    if PACKAGE not in parts:
        return None
    module = parts[parts.index(PACKAGE) :]
    names = [*module, *pyobject.split(".")]
    if any(n.startswith("_") for n in names[1:]):
        return None
    return ".".join(names)


class TmlLiteralInclude(LiteralInclude):
    """``literalinclude`` that drops docstrings of a shown ``tmlbook`` object."""

    def run(self):
        result = super().run()
        pyobject = self.options.get("pyobject")
        filename = self.arguments[0]
        if not pyobject or f"{PACKAGE}/" not in filename.replace("\\", "/"):
            return result
        for block in result:
            for literal in block.findall(nodes.literal_block):
                stripped = strip_docstrings(literal.astext())
                literal.rawsource = stripped
                literal.children = [nodes.Text(stripped)]
        target = api_target(filename, pyobject)
        if target is None:
            return result
        para = nodes.paragraph(classes=["tml-api-link"])
        para += nodes.Text("Documentation: ")
        ref = addnodes.pending_xref(
            "",
            refdomain="py",
            reftype="obj",
            reftarget=target,
            refexplicit=True,
            refwarn=True,
            tml_api=True,
        )
        ref += nodes.literal(target, target, classes=["xref", "py"])
        para += ref
        para += nodes.Text(" in the API reference.")
        return [*result, para]


def _defining_name(target: str) -> str | None:
    """``tmlbook.get_device`` -> ``tmlbook.device.get_device`` (where it is defined)."""
    module, _, name = target.rpartition(".")
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None
    real = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
    return real if real != target and real.startswith(f"{PACKAGE}.") else None


def resolve_api_fallback(app, env, node, contnode):
    """Resolve ``tmlbook`` names the API reference documents under another path.

    A re-exported name (``tmlbook.get_device``) links to where it is defined; a
    shown object without an entry of its own links to its module's entry.
    """
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target.startswith(f"{PACKAGE}."):
        return None
    domain = env.get_domain("py")
    real = _defining_name(target)
    if real is not None:
        found = domain.resolve_xref(
            env, node["refdoc"], app.builder, node["reftype"], real, node, contnode
        )
        if found is not None:
            return found
    if not node.get("tml_api"):
        return None
    module = target
    while "." in module:
        module = module.rsplit(".", 1)[0]
        found = domain.resolve_xref(
            env, node["refdoc"], app.builder, "mod", module, node, contnode
        )
        if found is not None:
            return found
    return contnode


# ---------------------------------------------------------------- API reference
def public_modules() -> list[str]:
    """Every public submodule of ``tmlbook``, sorted (chapters/api.md lists them)."""
    pkg = importlib.import_module(PACKAGE)
    return sorted(
        f"{PACKAGE}.{m.name}"
        for m in pkgutil.iter_modules(pkg.__path__)
        if not m.name.startswith("_")
    )


# ---------------------------------------------------------------- schedule
def _toc_files() -> list[str]:
    return re.findall(r"file:\s*(\S+)", (REPO / "_toc.yml").read_text())


def slot_chapters(slot: int) -> list[str]:
    """Docnames in ``_toc.yml`` that belong to slot ``slot`` (``chapters/lNN-*``)."""
    prefix = f"l{slot:02d}-"
    return [f for f in _toc_files() if Path(f).name.startswith(prefix)]


def slot_exercise(slot: int) -> Path | None:
    """The exercise master of week ``slot`` (``exercises/wNN-*/wNN.md``), if any."""
    found = sorted((REPO / "exercises").glob(f"w{slot:02d}-*/w{slot:02d}.md"))
    return found[0] if found else None


def _line(text: str) -> nodes.paragraph:
    return nodes.paragraph(text, text)


class ScheduleDirective(SphinxDirective):
    """The syllabus as a table: slot, topic, chapters, exercise, status.

    Content: one line per slot, ``L<n> | <topic>``.
    """

    has_content = True

    def run(self):
        self.env.note_dependency(str(REPO / "_toc.yml"))
        rows = []
        for raw in self.content:
            if not raw.strip():
                continue
            slot_text, topic = (s.strip() for s in raw.split("|", 1))
            rows.append((int(slot_text.lstrip("L")), topic))
        table = nodes.table(classes=["tml-schedule"])
        group = nodes.tgroup(cols=5)
        table += group
        for width in (6, 30, 34, 18, 12):
            group += nodes.colspec(colwidth=width)
        head = nodes.thead()
        group += head
        head += self._row(
            [_line(t) for t in ("Slot", "Topic", "Chapters", "Exercise", "Status")]
        )
        body = nodes.tbody()
        group += body
        for slot, topic in rows:
            chapters = slot_chapters(slot)
            master = slot_exercise(slot)
            if master is not None:
                self.env.note_dependency(str(master))
            chap = nodes.paragraph()
            for i, docname in enumerate(chapters):
                if i:
                    chap += nodes.Text(", ")
                ref = addnodes.pending_xref(
                    "",
                    refdomain="std",
                    reftype="doc",
                    reftarget="/" + docname,
                    refexplicit=False,
                    refwarn=True,
                )
                ref += nodes.inline(docname, docname)
                chap += ref
            if not chapters:
                chap += nodes.Text("—")
            exercise = nodes.paragraph()
            if master is not None:
                week = master.stem
                uri = f"../exercises/{week}.ipynb"
                exercise += nodes.reference(
                    "", f"{week}.ipynb", refuri=uri, classes=["tml-download"]
                )
            else:
                exercise += nodes.Text("—")
            if chapters and master is not None:
                status = "written, exercise released"
            elif chapters:
                status = "written"
            else:
                status = "planned"
            body += self._row(
                [_line(f"L{slot}"), _line(topic), chap, exercise, _line(status)]
            )
        return [table]

    @staticmethod
    def _row(cells):
        row = nodes.row()
        for cell in cells:
            entry = nodes.entry()
            entry += cell
            row += entry
        return row


# ---------------------------------------------------------------- MathJax, launch
def mathjax_source() -> Path:
    """The ``es5`` folder of the pinned MathJax copy."""
    import mathjax  # django-static-mathjax: no Django needed to read its files

    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"


def copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    src, dst = mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        if (src / part).is_dir():
            shutil.copytree(src / part, dst / part, dirs_exist_ok=True)
        else:
            dst.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / part, dst / part)
    licence = src.parent / "LICENSE"
    shutil.copy2(licence, dst / "LICENSE")


def repository_from_env(app, config):
    # Without a default mode the theme logs "Got invalid theme mode" to the console
    # on a reader's first visit.
    config.html_context.setdefault("default_mode", "auto")
    repo = os.environ.get("TML_REPOSITORY", "").strip()
    if repo:
        config.html_theme_options["repository_url"] = f"https://github.com/{repo}"


def launch_ipynb(app, pagename, templatename, context, doctree):
    """MyST pages: launch links open the executed ``.ipynb`` the site publishes."""
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group.get("buttons", []):
            url = button.get("url", "")
            if url.endswith(".md"):
                button["url"] = url[: -len(".md")] + ".ipynb"


INLINE_SCRIPT = re.compile(r"^\s*<script>[^<]*</script>\s*$")


def dedupe_inline_scripts(app, exception):
    """Drop repeated inline ``<script>`` lines in the written pages.

    Jupyter Book 1 makes sphinx-thebe add its ``const THEBE_JS_URL`` block twice
    (after Sphinx's own de-duplication), a SyntaxError in every reader's console.
    """
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        head, sep, body = text.partition("</head>")
        if not sep:
            continue
        seen, lines = set(), []
        for line in head.split("\n"):
            if INLINE_SCRIPT.match(line):
                if line.strip() in seen:
                    continue
                seen.add(line.strip())
            lines.append(line)
        new = "\n".join(lines) + sep + body
        if new != text:
            page.write_text(new, encoding="utf-8")


def executed_download(app, pagename, templatename, context, doctree):
    """The ``.ipynb`` download of a MyST page carries its outputs.

    The theme copies ``jupyter_execute/<page>.ipynb`` to ``_sources/`` as the page
    is written, but myst-nb writes that file without outputs when the page came
    from the execution cache. Merge the cached outputs in (jupyter-cache matches
    on the code cells).
    """
    if not context.get("ipynb_source"):
        return
    import jupytext
    import nbformat
    from jupyter_cache import get_cache

    config = getattr(app.env, "mystnb_config", None)
    cache_path = getattr(config, "execution_cache_path", "") or (
        Path(app.outdir).parent / ".jupyter_cache"
    )
    source = Path(app.env.doc2path(pagename))
    target = Path(app.outdir) / "_sources" / context["ipynb_source"]
    if not Path(cache_path).is_dir() or source.suffix != ".md" or not target.is_file():
        return
    notebook = jupytext.read(source, fmt="md:myst")
    try:
        _, merged = get_cache(str(cache_path)).merge_match_into_notebook(notebook)
    except KeyError:  # not in the cache (executed some other way)
        return
    repo = app.config.html_theme_options.get("repository_url", "")
    merged.cells.insert(0, nbformat.v4.new_code_cell(install_cell(repo)))
    nbformat.write(merged, target)


def install_cell(repository_url: str) -> str:
    """The first cell of a downloaded or launched chapter notebook: on Colab (or
    wherever ``tmlbook`` is missing) it installs the book's package from the
    repository; in the course's environment it does nothing."""
    source = f"git+{repository_url.rstrip('/')}.git@main" if repository_url else "."
    return (
        "# Colab, or a Python without the book's package: install it first.\n"
        "import importlib.util\n\n"
        'if importlib.util.find_spec("tmlbook") is None:\n'
        f'    %pip install --quiet "tmlbook @ {source}"\n'
    )


def setup(app):
    app.add_directive("literalinclude", TmlLiteralInclude, override=True)
    app.add_directive("tml-schedule", ScheduleDirective)
    app.connect("missing-reference", resolve_api_fallback)
    app.connect("config-inited", repository_from_env)
    app.connect("html-page-context", launch_ipynb, priority=900)
    app.connect("build-finished", copy_mathjax)
    app.connect("build-finished", dedupe_inline_scripts)
    app.connect("html-page-context", executed_download, priority=900)
    app.add_css_file("tmlbook.css")
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
