"""What a committed notebook must look like; shared by the hygiene tests and
tools/execute_notebooks.py, so the two cannot disagree."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# No "version": the patch release of Python differs between machines.
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled", "jupyter")
ALLOWED_NOTEBOOK_METADATA = {"kernelspec", "language_info"}

ABSOLUTE_PATH = re.compile(r"(?<![\w.])(/home/|/root/|/tmp/|/work/|/Users/|/usr/|/opt/|[A-Za-z]:\\)")
MEMORY_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")


def toc_files():
    """Every file named in _toc.yml, as paths relative to the repository."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    found = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                found.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc.get("parts", toc.get("chapters", [])))
    return found


def toc_notebooks():
    """Absolute paths of the notebooks listed in _toc.yml, in book order."""
    return [ROOT / f"{name}.ipynb" for name in toc_files() if (ROOT / f"{name}.ipynb").is_file()]


SOLUTION_TAG = "solution"
CHECK_TAG = "exercise-check"


def exercise_problems(nb):
    """What breaks the exercise rule (README, "Exercises and the student edition") in ``nb``:
    code inside a solution dropdown is tagged `solution` or `exercise-check` (or is
    given data without an assert); every exercise has a solution cell and, after it, a
    check cell that reads a name the solution binds; solution cells assert nothing."""
    import ast

    from tools import student_edition as se

    problems, inside = [], False
    for index, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        if cell.cell_type == "markdown":
            inside = se.strip_solutions(cell.source, inside)[1]
        elif SOLUTION_TAG in tags and CHECK_TAG in tags:
            problems.append(f"cell {index} is tagged both {SOLUTION_TAG!r} and {CHECK_TAG!r}")
        elif SOLUTION_TAG in tags:
            if any(isinstance(node, ast.Assert) for node in ast.walk(se.parse(cell.source))):
                problems.append(f"cell {index} (a solution) asserts: move its asserts to the check cell")
        elif inside and CHECK_TAG not in tags and "assert" in cell.source:
            problems.append(f"cell {index} in a solution dropdown asserts but is tagged neither "
                            f"{SOLUTION_TAG!r} nor {CHECK_TAG!r}")
    try:
        found = se.exercises(nb)
    except ValueError as error:
        return problems + [str(error)]
    for label, cells in found.items():
        if not cells["solutions"] or not cells["checks"]:
            problems.append(f"{label} needs a cell tagged {SOLUTION_TAG!r} and one tagged {CHECK_TAG!r}")
            continue
        if min(cells["checks"]) < min(cells["solutions"]):
            problems.append(f"{label}: its check comes before its solution")
        solutions = [nb.cells[i] for i in cells["solutions"]]
        if not se.needed_names(solutions, [nb.cells[i] for i in cells["checks"]]):
            problems.append(f"{label}: its check reads no name its solution binds, so it cannot fail unsolved")
    return problems
