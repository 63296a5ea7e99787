"""The book's Sphinx extension (chapters/_ext/tmlbook_book.py), without a build."""

import ast
import re
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "chapters" / "_ext"))

import tmlbook_book as ext  # noqa: E402 - after the sys.path entry above

SHOWN = sorted(
    set(
        re.findall(
            r"```\{literalinclude\} \.\./(tmlbook/\w+\.py)\n(?::\w[\w-]*:.*\n)*?"
            r":pyobject: (\S+)",
            "".join(p.read_text() for p in (REPO / "chapters").glob("*.md")),
        )
    )
)


def _without_docstrings(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Expr(ast.Constant(...))]
    return ast.dump(tree)


def _source_of(path, pyobject):
    """The text ``literalinclude`` selects with ``:pyobject:`` (Sphinx's reader)."""
    from types import SimpleNamespace

    from sphinx.directives.code import LiteralIncludeReader

    config = SimpleNamespace(source_encoding="utf-8")
    text, _ = LiteralIncludeReader(
        str(REPO / path), {"pyobject": pyobject}, config
    ).read()
    return text


def test_strip_docstrings_of_a_function_keeps_every_code_line():
    code = textwrap.dedent(
        '''\
        def f(x):
            """Doc.

            More doc.
            """

            y = x + 1  # comment kept
            return y
        '''
    )
    out = ext.strip_docstrings(code)
    assert '"""' not in out
    assert out.splitlines() == [
        "def f(x):",
        "    y = x + 1  # comment kept",
        "    return y",
    ]


def test_strip_docstrings_of_a_class_and_its_methods():
    code = textwrap.dedent(
        '''\
        class A:
            """Class doc."""

            def m(self):
                """Method doc."""
                return 1
        '''
    )
    out = ext.strip_docstrings(code)
    assert "doc" not in out
    assert "return 1" in out and "def m(self):" in out
    ast.parse(out)


def test_a_docstring_only_body_stays_valid_python():
    out = ext.strip_docstrings('def f():\n    """Only a docstring."""\n')
    ast.parse(out)
    assert "Only" not in out


def test_api_targets_of_public_and_private_objects():
    assert ext.api_target("../tmlbook/foundations.py", "log_softmax") == (
        "tmlbook.foundations.log_softmax"
    )
    assert ext.api_target("../tmlbook/models.py", "MLP.forward") == (
        "tmlbook.models.MLP.forward"
    )
    assert ext.api_target("../tmlbook/training.py", "_train_loop") is None
    assert ext.api_target("../other/x.py", "f") is None


@pytest.mark.parametrize("path,pyobject", SHOWN, ids=lambda v: str(v))
def test_every_shown_function_is_the_code_that_runs(path, pyobject):
    """What a chapter shows parses to the same code as the source, docstrings aside."""
    source = _source_of(path, pyobject)
    shown = ext.strip_docstrings(source)
    assert _without_docstrings(ast.parse(textwrap.dedent(shown))) == (
        _without_docstrings(ast.parse(textwrap.dedent(source)))
    )
    rest = iter(source.splitlines())
    assert all(line in rest for line in shown.splitlines())  # a subsequence: no
    # line invented, changed or reordered


def test_shown_functions_were_found():
    assert len(SHOWN) >= 20
    assert ("tmlbook/foundations.py", "generalisation_gap") in SHOWN


def test_schedule_sources():
    assert "chapters/l01-introduction" in ext.slot_chapters(1)
    assert ext.slot_chapters(16) == ["chapters/l16-final"]
    assert ext.slot_exercise(1).name == "w01.md"
    assert ext.slot_exercise(15) is None  # projects: no exercise


def test_public_modules_cover_the_package():
    modules = ext.public_modules()
    assert "tmlbook.foundations" in modules and "tmlbook.training" in modules
    assert not any(m.rsplit(".", 1)[1].startswith("_") for m in modules)


def test_mathjax_is_installed_with_fonts_and_licence():
    src = ext.mathjax_source()
    assert (src / "tex-chtml.js").is_file()
    assert list((src / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert "Apache License" in (src.parent / "LICENSE").read_text()


def test_the_api_reference_documents_every_public_module():
    text = (REPO / "chapters" / "api.md").read_text()
    documented = re.findall(r"^\.\. automodule:: (\S+)$", text, flags=re.MULTILINE)
    assert documented == ext.public_modules()
