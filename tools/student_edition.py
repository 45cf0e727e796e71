"""The student edition of the course: every exercise's solution taken out, every check kept.

    python -m tools.student_edition                    # write _build/student (make student)
    python -m tools.student_edition --round-trip       # prove it on every chapter (make student-check)
    python -m tools.student_edition --grade NB ...     # a student's notebooks: one line per exercise

How an exercise is written is the rule of /README.md ("Exercises and the student
edition"), enforced by tests/test_notebooks.py: inside an exercise's solution
dropdown (``{solution-start}`` ... ``{solution-end}``) a code cell tagged
``solution`` computes the answer, and a cell tagged ``exercise-check`` asserts on
it. The student edition (same book, same sources otherwise) has

* no solution prose: the ``{solution-start}``/``{solution-end}`` blocks and the
  ``:::{solution}`` blocks are removed from the markdown;
* in place of an exercise's ``solution`` cells, one stub cell (tag
  ``exercise-stub``) that says what to write and sets the names the check needs
  to ``None`` (the names the solution binds at top level and the check reads,
  found with ``ast``);
* each ``exercise-check`` cell kept, its stored output cleared, with a first
  line that fails with a clear ``AssertionError`` while a name is still ``None``.

``--round-trip`` runs each chapter's student notebook once, in one kernel, cell
by cell: every cell outside the exercises must give the instructor's stored
output (compared as nbval compares, with tests/nbval_sanitize.cfg); each check
must fail as shipped; then the instructor's solution cells run and the check must
pass and print the instructor's output. Chapters run two at a time.

The markup is plain cell tags (MyST-NB and nbval read tags too) and the edition
is made with nbformat: nbgrader's ClearSolutions needs ``### BEGIN SOLUTION``
markers inside the cells, which the website would show to every reader.
"""

import argparse
import ast
import configparser
import copy
import re
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = "solution"
CHECK = "exercise-check"
STUB = "exercise-stub"
# What a student edition holds besides the notebooks: the book's sources, and what
# a student needs to install convgrad and build the site (tools/ holds the book's
# local Sphinx extensions).
COPIED = ("_config.yml", "_toc.yml", "intro.md", "references.bib", "appendix", "_static",
          "tools", "src", "pyproject.toml", "requirements.txt", "LICENSE", "tests/nbval_sanitize.cfg")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", ".ipynb_checkpoints")

EXERCISE_LABEL = re.compile(r"^(?::{3,}|`{3,})\{exercise(?:-start)?\}.*?^:label:\s*(\S+)",
                            re.MULTILINE | re.DOTALL)
FENCE = re.compile(r"^(:{3,}|`{3,})\{([a-z-]+)\}")


def tags(cell):
    return cell.metadata.get("tags", [])


# --- markdown -----------------------------------------------------------------

def strip_solutions(text, inside=False):
    """``text`` without its solution blocks; ``inside`` says whether the cell starts
    inside a ``{solution-start}`` block. Returns (text, inside at the end)."""
    kept, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        line = lines[i]
        match = FENCE.match(line)
        name = match.group(2) if match else None
        if inside:
            if name == "solution-end":
                i = closing(lines, i, match.group(1))
                inside = False
        elif name == "solution-start":
            inside = True
        elif name == "solution":
            i = closing(lines, i, match.group(1))
        else:
            kept.append(line)
        i += 1
    return "\n".join(kept).strip("\n"), inside


def closing(lines, start, fence):
    """Index of the line closing the directive opened at ``start``."""
    for j in range(start + 1, len(lines)):
        if lines[j].strip() == fence:
            return j
    raise ValueError(f"directive {lines[start]!r} is never closed")


def exercise_labels(text):
    return EXERCISE_LABEL.findall(text)


# --- names ----------------------------------------------------------------------

def parse(source):
    # IPython magics and shell escapes are not Python; they bind nothing the checks need
    return ast.parse("\n".join("" if line.lstrip().startswith(("%", "!")) else line
                               for line in source.splitlines()))


def bound_names(source):
    """Names bound at the top level of a cell, in order (not inside functions)."""
    names = []

    def add(target):
        for node in ast.walk(target):
            if isinstance(node, ast.Name) and node.id not in names:
                names.append(node.id)

    def visit(statements):
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.append(node.name) if node.name not in names else None
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    name = (alias.asname or alias.name).split(".")[0]
                    names.append(name) if name not in names else None
            for field in ("targets", "target"):
                value = getattr(node, field, None)
                for target in value if isinstance(value, list) else [value] if value else []:
                    add(target)
            for item in getattr(node, "items", []):
                if item.optional_vars is not None:
                    add(item.optional_vars)
            for field in ("body", "orelse", "finalbody"):
                visit(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                visit(handler.body)

    visit(parse(source).body)
    return names


def read_names(source):
    return {node.id for node in ast.walk(parse(source))
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def needed_names(solutions, checks):
    """The names the check cells read that the solution cells bind, in binding order."""
    read = set().union(*(read_names(c.source) for c in checks)) if checks else set()
    own = set().union(*(bound_names(c.source) for c in checks)) if checks else set()
    names = []
    for cell in solutions:
        names += [n for n in bound_names(cell.source) if n in read and n not in own and n not in names]
    return names


def stub_source(label, names):
    listed = ", ".join(names)
    return "\n".join([f"# Exercise {label}: write code that sets {listed} (see the exercise above),",
                      "# then run the check in the next cell.",
                      *(f"{name} = None" for name in names)])


def guard_line(label, names):
    values = ", ".join(names) + ("," if len(names) == 1 else "")
    return (f"assert all(v is not None for v in ({values})), "
            f"\"{label} is not solved yet: set {', '.join(names)} in the cell above\"")


# --- one notebook -----------------------------------------------------------------

def exercises(nb):
    """{label: {"solutions": [cell index, ...], "checks": [...]}} in notebook order, and
    the label each code cell belongs to ({index: label}) for tagged cells."""
    found, label = {}, None
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            for label in exercise_labels(cell.source):
                found.setdefault(label, {"solutions": [], "checks": []})
        elif cell.cell_type == "code" and (SOLUTION in tags(cell) or CHECK in tags(cell)):
            if label is None:
                raise ValueError(f"cell {index} is tagged {tags(cell)} before any exercise")
            found[label]["solutions" if SOLUTION in tags(cell) else "checks"].append(index)
    return found


def student_notebook(nb):
    """The student edition of ``nb``, and for each of its check cells (by new index)
    the exercise label and the instructor's cells: (label, solution cells, check cell)."""
    found = exercises(nb)
    names = {}
    for label, cells in found.items():
        solutions = [nb.cells[i] for i in cells["solutions"]]
        checks = [nb.cells[i] for i in cells["checks"]]
        if solutions and checks:
            names[label] = needed_names(solutions, checks)
            if not names[label]:
                raise ValueError(f"{label}: its check reads no name its solution cells bind")
    owner = {i: label for label, cells in found.items() for key in cells for i in cells[key]}
    # A notebook not yet written to the rule (no exercise tags at all): the code in its
    # solution dropdowns both solves and checks, so all of it is left out.
    untagged = not owner
    student, plan, inside, stubbed = [], {}, False, set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            text, inside = strip_solutions(cell.source, inside)
            if text.strip():
                new = copy.deepcopy(cell)
                new.source = text
                student.append(new)
        elif SOLUTION in tags(cell):
            label = owner[index]
            if label not in stubbed and label in names:
                stubbed.add(label)
                student.append(nbformat.v4.new_code_cell(
                    stub_source(label, names[label]), metadata={"tags": [STUB], "exercise": label}))
        elif CHECK in tags(cell):
            label = owner[index]
            new = copy.deepcopy(cell)
            new.outputs, new.execution_count = [], None
            new.metadata["exercise"] = label
            if label in names:
                new.source = guard_line(label, names[label]) + "\n" + cell.source
            plan[len(student)] = (label, [nb.cells[i] for i in found[label]["solutions"]], cell)
            student.append(new)
        elif not (untagged and inside):
            student.append(copy.deepcopy(cell))
    edition = copy.deepcopy(nb)
    edition.cells = student
    return edition, plan


def student_config(config, repository=None):
    """The student edition's _config.yml: its own title, and launch buttons that open the
    students' repository (``repository``), or none (they would open the instructor's
    notebooks, solutions included)."""
    config = re.sub(r"^title: (.*)$", r"title: \1 (student edition)", config, count=1, flags=re.MULTILINE)
    if repository:
        return re.sub(r"^(repository:\n  url: ).*$", lambda m: m.group(1) + repository, config,
                      count=1, flags=re.MULTILINE)
    for key in ("binderhub_url", "colab_url"):
        config = re.sub(rf"^(  {key}: ).*$", r'\1""', config, count=1, flags=re.MULTILINE)
    for key in ("use_repository_button", "use_issues_button"):
        config = re.sub(rf"^(  {key}: ).*$", r"\1false", config, count=1, flags=re.MULTILINE)
    return config


def build(source_root, target, repository=None):
    """Write the student edition of the book in ``source_root`` to ``target``."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in COPIED:
        path = source_root / name
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            shutil.copytree(path, destination, ignore=IGNORED)
        elif path.is_file():
            shutil.copyfile(path, destination)
    (target / "chapters").mkdir()
    untagged = []
    for path in sorted((source_root / "chapters").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        untagged += [] if is_tagged(nb) else [path.name]
        edition, _ = student_notebook(nb)
        nbformat.write(edition, target / "chapters" / path.name)
    config = (target / "_config.yml").read_text()
    (target / "_config.yml").write_text(student_config(config, repository))
    (target / "README.md").write_text(STUDENT_README)
    return target, untagged


STUDENT_README = """\
# Convolutions for deep learning: student edition

Every chapter in `chapters/` ends with exercises. Under each exercise is a cell
that sets some names to `None` (write your solution there) and a check cell
that fails with an `AssertionError` until your solution is right.

```bash
python3 -m venv .venv && .venv/bin/pip install -r requirements.txt
.venv/bin/pip install jupyterlab && .venv/bin/jupyter lab chapters/
.venv/bin/python -m tools.student_edition --grade chapters/*.ipynb   # which exercises pass
.venv/bin/jupyter-book build .                                      # the book, into _build/html
```
"""


# --- running notebooks -----------------------------------------------------------

def sanitizers(path=ROOT / "tests" / "nbval_sanitize.cfg"):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return [(re.compile(parser[s]["regex"]), parser[s]["replace"]) for s in parser.sections()]


SKIP_COMPARE = {"metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
                "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg"}


def comparable(outputs, patterns):
    """Outputs flattened as nbval compares them: {key or MIME type: [sanitized values]}."""
    from tools.execute_notebooks import merge_streams

    flat = {}
    for output in merge_streams([copy.deepcopy(o) for o in outputs]):
        for key, value in output.items():
            if key in SKIP_COMPARE:
                continue
            items = value.items() if key == "data" else [(key, value)]
            for name, item in items:
                if name in SKIP_COMPARE:
                    continue
                text = "".join(item) if isinstance(item, list) else item
                if isinstance(text, str):
                    for regex, replace in patterns:
                        text = regex.sub(replace, text)
                flat.setdefault(name, []).append(text)
    return flat


class Kernel:
    """One kernel that runs cells one at a time (nbclient), from the chapter's folder."""

    def __init__(self, nb, folder, timeout=600):
        from nbclient import NotebookClient

        self.client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(folder)}})

    def __enter__(self):
        self.context = self.client.setup_kernel()
        self.context.__enter__()
        return self

    def __exit__(self, *exc):
        return self.context.__exit__(*exc)

    def run(self, cell, index):
        """Run a copy of ``cell``; return (outputs, None) or (outputs, (ename, evalue))."""
        from nbclient.exceptions import CellExecutionError

        cell = copy.deepcopy(cell)
        cell.outputs = []
        try:
            self.client.execute_cell(cell, index)
        except CellExecutionError as error:
            return cell.outputs, (error.ename, error.evalue)
        return cell.outputs, None


def is_tagged(nb):
    return any(SOLUTION in tags(c) or CHECK in tags(c) for c in nb.cells)


def round_trip(path, patterns):
    """Problems found in chapter ``path`` (empty when the round trip holds) and the
    number of exercise checks run; (None, 0) for a chapter without exercise tags."""
    instructor = nbformat.read(path, as_version=4)
    if not is_tagged(instructor):
        return None, 0
    student, plan = student_notebook(instructor)
    problems, checks = [], 0
    text = "\n".join(c.source for c in student.cells)
    for cell in instructor.cells:
        if SOLUTION in tags(cell) and cell.source.strip() and cell.source.strip() in text:
            problems.append(f"solution code left in the student edition: {cell.source[:60]!r}")
    if "{solution" in text:
        problems.append("solution markup left in the student edition")
    for label, cells in exercises(instructor).items():
        if not cells["checks"]:
            problems.append(f"{label} has no cell tagged {CHECK!r}")
    expected = iter([c for c in instructor.cells if c.cell_type == "code"
                     and SOLUTION not in tags(c) and CHECK not in tags(c)])
    with Kernel(student, path.parent) as kernel:
        for index, cell in enumerate(student.cells):
            if cell.cell_type != "code":
                continue
            where = f"cell {index}"
            if STUB in tags(cell):
                _, error = kernel.run(cell, index)
                if error:
                    problems.append(f"{where}: the stub of {cell.metadata['exercise']} raised {error[0]}")
                continue
            if index in plan:
                label, solutions, original = plan[index]
                checks += 1
                _, error = kernel.run(cell, index)
                if error is None:
                    problems.append(f"{where}: the check of {label} passes before it is solved")
                elif error[0] != "AssertionError" or label not in error[1]:
                    problems.append(f"{where}: the unsolved check of {label} raised {error[0]}: "
                                    f"{error[1][:100]} (expected its AssertionError)")
                for solution in solutions:
                    outputs, error = kernel.run(solution, index)
                    if error:
                        problems.append(f"{where}: the solution of {label} raised {error[0]}: {error[1][:100]}")
                    elif ("nbval-ignore-output" not in tags(solution)
                          and comparable(outputs, patterns) != comparable(solution.outputs, patterns)):
                        problems.append(f"{where}: the solution of {label} printed something else")
                outputs, error = kernel.run(cell, index)
                if error:
                    problems.append(f"{where}: the check of {label} fails with its solution: "
                                    f"{error[0]}: {error[1][:100]}")
                elif ("nbval-ignore-output" not in tags(original)
                      and comparable(outputs, patterns) != comparable(original.outputs, patterns)):
                    problems.append(f"{where}: the solved check of {label} prints something else "
                                    "than the instructor's notebook")
                continue
            original = next(expected)
            if "nbval-skip" in tags(cell):
                continue
            outputs, error = kernel.run(cell, index)
            if error:
                problems.append(f"{where} raised {error[0]}: {error[1][:100]}")
            elif ("nbval-ignore-output" not in tags(cell)
                  and comparable(outputs, patterns) != comparable(original.outputs, patterns)):
                problems.append(f"{where}: output differs from the instructor's notebook")
    return problems, checks


def grade(path):
    """Run a student's notebook top to bottom; {exercise label: passed?} and other errors."""
    nb = nbformat.read(path, as_version=4)
    results, errors = {}, []
    with Kernel(nb, path.parent) as kernel:
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            _, error = kernel.run(cell, index)
            if CHECK in tags(cell):
                label = cell.metadata.get("exercise", f"cell {index}")
                results[label] = results.get(label, True) and error is None
            elif error:
                errors.append(f"cell {index} raised {error[0]}: {error[1][:100]}")
    return results, errors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=Path, default=ROOT / "_build" / "student")
    parser.add_argument("--repository", help="URL of the students' repository: the student edition's "
                        "launch buttons open it (default: no launch or repository buttons)")
    parser.add_argument("--round-trip", action="store_true",
                        help="check the student edition of every chapter (or of the NOTEBOOKS given)")
    parser.add_argument("--grade", action="store_true", help="grade the student NOTEBOOKS given")
    parser.add_argument("--jobs", type=int, default=2, help="chapters run at the same time (--round-trip)")
    parser.add_argument("--strict", action="store_true",
                        help="--round-trip: a chapter without exercise tags fails (default: reported, skipped)")
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)

    if args.grade:
        passed = total = failed_notebooks = 0
        for path in args.notebooks:
            results, errors = grade(path.resolve())
            for label, ok in results.items():
                print(f"{path.name} {label}: {'pass' if ok else 'FAIL'}")
            for message in errors:
                print(f"{path.name}: {message}")
            passed += sum(results.values())
            total += len(results)
            failed_notebooks += bool(errors)
        print(f"{passed} passed, {total - passed} failed")
        return 0 if passed == total and not failed_notebooks else 1

    if args.round_trip:
        paths = [p.resolve() for p in args.notebooks] or sorted((ROOT / "chapters").glob("*.ipynb"))
        patterns = sanitizers()

        def one(path):
            start = time.perf_counter()
            problems, checks = round_trip(path, patterns)
            return path, problems, checks, time.perf_counter() - start

        start, failed, skipped, total = time.perf_counter(), 0, 0, 0
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            # the largest notebooks (the longest runs, as a rule) start first; reported in book order
            futures = {path: pool.submit(one, path) for path in sorted(paths, key=lambda p: -p.stat().st_size)}
            for path, problems, checks, seconds in (futures[path].result() for path in paths):
                total += checks
                if problems is None:
                    skipped += 1
                    problems = [f"no cell tagged {SOLUTION!r} or {CHECK!r}"] if args.strict else []
                    print(f"student edition {path.name}: exercises not tagged yet"
                          + ("" if args.strict else " (skipped)"))
                else:
                    status = "ok" if not problems else f"{len(problems)} problems"
                    print(f"student edition {path.name}: {checks} exercise checks, {status} ({seconds:.0f} s)")
                for message in problems:
                    print(f"  {message}")
                failed += bool(problems)
        print(f"student edition: {total} exercise checks in {len(paths) - skipped} chapters, "
              f"{skipped} chapters untagged, {time.perf_counter() - start:.0f} s")
        print(f"round-trip: {len(paths) - failed - (0 if args.strict else skipped)} passed, {failed} failed"
              + ("" if args.strict else f", {skipped} skipped"))
        return 1 if failed else 0

    target, untagged = build(ROOT, args.target.resolve(), args.repository)
    print(f"student edition written to {target}")
    if untagged:
        print(f"student edition: no exercise tags yet in {', '.join(untagged)}: the code in their "
              "solutions is left out, and they have no checks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
