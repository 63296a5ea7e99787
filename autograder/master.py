"""Read an exercise master (otter-assign format stored as MyST ``.md``).

A master lives at ``exercises/wNN-<slug>/wNN.md``.  This module finds it, parses
its questions and test cases (independently of otter, so that the grader does
not depend on otter's internals), and derives the notebooks that tutors see:
the worked solution and the nbgrader source.  Mutants live next to the master
in ``mutants/<question>_<what>.py``.
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbformat
import yaml

from autograder.runner import TestCase

REPO = Path(__file__).resolve().parent.parent
EXERCISES = REPO / "exercises"
WEEK = re.compile(r"^w\d\d$")
CONFIG = re.compile(
    r'^\s*"""\s*#\s*BEGIN TEST CONFIG\s*\n(.*?)"""\s*#\s*END TEST CONFIG\s*\n', re.S
)


class MasterError(ValueError):
    """The master, or the week asked for, is not usable."""


@dataclass
class Question:
    name: str
    points: float
    tests: list[TestCase] = field(default_factory=list)
    solution_names: list[str] = field(default_factory=list)  # names defined by answers


@dataclass
class Master:
    week: str
    path: Path
    notebook: nbformat.NotebookNode
    questions: list[Question]

    @property
    def max_score(self) -> float:
        return sum(q.points for q in self.questions)

    def question(self, name: str) -> Question:
        for q in self.questions:
            if q.name == name:
                return q
        raise MasterError(f"{self.week} has no question {name!r}")


def available_weeks() -> list[str]:
    return sorted(
        p.parent.name.split("-")[0]
        for p in EXERCISES.glob("w[0-9][0-9]-*/w*.md")
        if p.stem == p.parent.name.split("-")[0]
    )


def find_master(week: str) -> Path:
    """Path of ``exercises/<week>-*/<week>.md``; a clear error for a wrong name."""
    if not WEEK.match(str(week)):
        raise MasterError(f"{week!r} is not a week name: use w01, w02, ...")
    hits = sorted(EXERCISES.glob(f"{week}-*/{week}.md"))
    if not hits:
        weeks = ", ".join(available_weeks()) or "none"
        raise MasterError(f"no exercise named {week!r}; available: {weeks}")
    if len(hits) > 1:
        raise MasterError(f"more than one master for {week}: {[str(h) for h in hits]}")
    return hits[0]


def _raw_config(cell) -> tuple[str, dict] | None:
    """For a raw boundary cell return (marker, yaml config)."""
    if cell.cell_type != "raw":
        return None
    text = cell.source.strip()
    first, _, rest = text.partition("\n")
    marker = first.strip().lstrip("#").strip().upper()
    try:
        config = yaml.safe_load(rest) if rest.strip() else {}
    except yaml.YAMLError as exc:
        raise MasterError(f"bad YAML in the {marker!r} cell: {exc}") from exc
    return marker, (config or {})


def read_notebook(path: Path) -> nbformat.NotebookNode:
    return jupytext.read(path, fmt="md:myst")


@dataclass
class Block:
    """Where one cell of a master stands: the one reading of BEGIN/END markers."""

    index: int
    cell: nbformat.NotebookNode
    question: str | None  # the question the cell belongs to (None: setup)
    marker: str | None = None  # a raw boundary cell's marker, upper case
    config: dict = field(default_factory=dict)  # ... and its YAML
    in_tests: bool = False
    in_solution: bool = False


def walk(notebook: nbformat.NotebookNode):
    """Yield a :class:`Block` per cell of a master notebook, in order."""
    question = None
    in_tests = in_solution = False
    for i, cell in enumerate(notebook.cells):
        raw = _raw_config(cell)
        if raw:
            marker, config = raw
            if marker == "BEGIN QUESTION":
                question = str(config.get("name", "")) or None
            in_tests = {"BEGIN TESTS": True, "END TESTS": False}.get(marker, in_tests)
            in_solution = {"BEGIN SOLUTION": True, "END SOLUTION": False}.get(
                marker, in_solution
            )
            yield Block(i, cell, question, marker, config, in_tests, in_solution)
            if marker == "END QUESTION":
                question = None
            continue
        yield Block(i, cell, question, None, {}, in_tests, in_solution)


def parse(notebook: nbformat.NotebookNode, week: str, path: Path) -> Master:
    questions: list[Question] = []
    current: Question | None = None
    assignment = None
    for b in walk(notebook):
        i = b.index
        if b.marker == "ASSIGNMENT CONFIG":
            assignment = b.config
        elif b.marker == "BEGIN QUESTION":
            if current is not None:
                raise MasterError(f"cell {i}: question inside question {current.name}")
            if "name" not in b.config or "points" not in b.config:
                raise MasterError(f"cell {i}: BEGIN QUESTION needs name and points")
            current = Question(str(b.config["name"]), float(b.config["points"]))
        elif b.marker == "END QUESTION":
            if current is None:
                raise MasterError(f"cell {i}: END QUESTION without BEGIN QUESTION")
            total = sum(t.points for t in current.tests)
            if abs(total - current.points) > 1e-9:
                raise MasterError(
                    f"{current.name}: test points add up to {total}, "
                    f"the question is worth {current.points}"
                )
            questions.append(current)
            current = None
        elif b.marker is None and b.cell.cell_type == "code" and current is not None:
            if b.in_tests:
                current.tests.append(_parse_test(b.cell.source, current.name, i))
            elif b.in_solution:
                tree = ast.parse(strip_solution_markers(b.cell.source))
                current.solution_names += sorted(defined_names(tree))
    if assignment is None:
        raise MasterError(f"{path}: no ASSIGNMENT CONFIG cell")
    if str(assignment.get("name")) != week:
        raise MasterError(
            f"{path}: ASSIGNMENT CONFIG names {assignment.get('name')!r}, not {week!r}"
        )
    if current is not None:
        raise MasterError(f"{path}: question {current.name} has no END QUESTION")
    if not questions:
        raise MasterError(f"{path}: no questions")
    return Master(week, path, notebook, questions)


def defined_names(tree: ast.Module) -> set[str]:
    """Names a cell defines at top level: functions, classes and assigned names
    (an exam's value answers, ``q3_value = ...``)."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _parse_test(source: str, question: str, index: int) -> TestCase:
    match = CONFIG.match(source)
    config = yaml.safe_load(match.group(1)) if match else {}
    code = source[match.end() :] if match else source
    funcs = [n for n in ast.parse(code).body if isinstance(n, ast.FunctionDef)]
    if len(funcs) != 1 or not funcs[0].name.startswith("test"):
        raise MasterError(
            f"cell {index}: a test cell holds exactly one test_* function"
        )
    if "points" not in config:
        raise MasterError(f"cell {index}: test {funcs[0].name} has no points")
    return TestCase(
        question=question,
        name=funcs[0].name,
        code=code.strip() + "\n",
        points=float(config["points"]),
        hidden=bool(config.get("hidden", False)),
        failure_message=str(config.get("failure_message", "")),
        success_message=str(config.get("success_message", "")),
        call=funcs[0].name,
    )


def load_master(week: str | Path) -> Master:
    """The master of ``week`` (``"w01"``), or the master file at a path
    (``path/to/w00.md``: a master outside ``exercises/``, for tests)."""
    if str(week).endswith(".md"):
        path = Path(week).resolve()
        if not path.is_file():
            raise MasterError(f"no master file {week}")
        return parse(read_notebook(path), path.stem, path)
    path = find_master(str(week))
    return parse(read_notebook(path), str(week), path)


IN_CELL_MARKER = re.compile(r"^(\s*)# (BEGIN|END) SOLUTION\b")


def solution_lines(source: str) -> list[tuple[str, str]]:
    """Each line of a code cell with its kind: ``"marker"`` (an in-cell ``# BEGIN
    SOLUTION`` / ``# END SOLUTION``), ``"solution"`` (between them) or
    ``"public"`` (what students see)."""
    out, inside = [], False
    for line in source.splitlines():
        match = IN_CELL_MARKER.match(line)
        if match:
            inside = match.group(2) == "BEGIN"
            out.append((line, "marker"))
        else:
            out.append((line, "solution" if inside else "public"))
    return out


def strip_solution_markers(source: str) -> str:
    """The cell as the worked solution shows it: markers dropped, answer kept."""
    kept = [ln for ln, kind in solution_lines(source) if kind != "marker"]
    return "\n".join(kept) + ("\n" if source.endswith("\n") and kept else "")


def strip_solution_blocks(source: str) -> str:
    """The cell as students get it: markers and answer dropped."""
    kept = [ln for ln, kind in solution_lines(source) if kind == "public"]
    return "\n".join(kept) + ("\n" if source.endswith("\n") and kept else "")


def solution_notebook(
    master: Master, questions: list[str] | None = None
) -> nbformat.NotebookNode:
    """The worked solution for tutors: answers in place, no tests, no raw cells.

    With ``questions``, only the setup cells (outside every question) and the
    cells of those questions.  Each code cell records its question in
    ``metadata.tmlbook.question``.
    """
    nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(master.notebook.metadata))
    for b in walk(master.notebook):
        if b.marker is not None or b.in_tests:
            continue
        if questions is not None and b.question not in (None, *questions):
            continue
        if b.cell.cell_type == "code":
            cell = nbformat.v4.new_code_cell(strip_solution_markers(b.cell.source))
            cell.metadata["tmlbook"] = {"question": b.question}
            nb.cells.append(cell)
        else:
            nb.cells.append(nbformat.v4.new_markdown_cell(b.cell.source))
    nb.metadata["tmlbook"] = {"week": master.week, "kind": "solution"}
    return nb


# --------------------------------------------------------------------------- mutants
@dataclass
class Mutant:
    """A known-wrong answer to one question: it must lose points there."""

    name: str
    question: str
    code: str
    why: str


def load_mutants(master: Master) -> list[Mutant]:
    mutants = []
    for path in sorted((master.path.parent / "mutants").glob("*.py")):
        question = path.stem.split("_")[0]
        master.question(question)  # raises for a mutant of an unknown question
        text = path.read_text()
        why = next(
            (
                line.split(":", 1)[1].strip()
                for line in text.splitlines()
                if line.startswith("# why:")
            ),
            "",
        )
        mutants.append(Mutant(path.stem, question, text, why))
    return mutants


def mutant_notebook(
    master: Master, mutant: Mutant, alone: bool = False
) -> nbformat.NotebookNode:
    """The solution notebook with one question's answer cells replaced by the mutant;
    ``alone``: the setup cells and the mutant's question only."""
    return mutants_notebook(master, [mutant], alone)


def mutants_notebook(
    master: Master, mutants: list[Mutant], alone: bool = False
) -> nbformat.NotebookNode:
    """The solution notebook with the answer cells of each mutant's question replaced
    by that mutant (at most one mutant per question); ``alone``: the setup cells and
    those questions only."""
    questions = [m.question for m in mutants]
    if len(set(questions)) != len(questions):
        raise MasterError(f"more than one mutant per question: {questions}")
    nb = solution_notebook(master, questions if alone else None)
    for mutant in mutants:
        _replace_answer(master, nb, mutant)
    return nb


def _replace_answer(master: Master, nb, mutant: Mutant) -> None:
    names = set(master.question(mutant.question).solution_names)
    replaced = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.metadata.get("tmlbook", {}).get("question") != mutant.question:
            continue
        try:
            defined = defined_names(ast.parse(cell.source))
        except SyntaxError:
            continue
        if defined and defined <= names:
            cell.source = mutant.code if not replaced else "pass"
            replaced = True
    if not replaced:
        raise MasterError(
            f"mutant {mutant.name}: no answer cell of {mutant.question} found"
        )


def independent_questions(master: Master) -> set[str]:
    """Questions whose answer cells and tests use no name that another question's
    answer defines: their mutants can be verified side by side in one notebook."""
    owner = {n: q.name for q in master.questions for n in q.solution_names}
    used: dict[str, set[str]] = {q.name: set() for q in master.questions}
    for b in walk(master.notebook):
        if b.question is None or b.cell.cell_type != "code" or b.marker is not None:
            continue
        try:
            tree = ast.parse(strip_solution_markers(b.cell.source))
        except SyntaxError:
            continue
        used[b.question] |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    for q in master.questions:
        for t in q.tests:
            tree = ast.parse(t.code)
            used[q.name] |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
            used[q.name] |= {
                a.arg
                for n in ast.walk(tree)
                if isinstance(n, ast.FunctionDef)
                for a in n.args.args
            }
    return {q for q, names in used.items() if all(owner.get(n, q) == q for n in names)}
