"""tools/student_edition.py: what the student edition keeps and removes, on a small
notebook made here and on every chapter. The full round trip (every chapter run
once, each check failing unsolved and passing with the instructor's solution) is
`make student-check`, which .ci/run runs."""

import nbformat
import pytest

from tools import student_edition as se
from tools.notebook_rules import ROOT

CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))

EXERCISE = """## Exercises

:::{exercise}
:label: ex-demo-1
Compute the squares of 0, 1, 2.
:::"""
START = """```{solution-start} ex-demo-1
:class: dropdown
```
The squares are SECRET-PROSE."""
END = """```{solution-end}
```

:::{exercise}
:label: ex-demo-2
Why?
:::

:::{solution} ex-demo-2
:class: dropdown
Because SECRET-ANSWER.
:::

A closing remark."""


def cell(kind, source, *tags, outputs=None):
    if kind == "md":
        return nbformat.v4.new_markdown_cell(source)
    new = nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)} if tags else {})
    new.outputs = outputs or []
    return new


def demo(tagged=True):
    printed = [nbformat.v4.new_output("stream", name="stdout", text="squares: [0, 1, 4]\n")]
    return nbformat.v4.new_notebook(cells=[
        cell("code", "import numpy as np"),
        cell("md", EXERCISE),
        cell("md", START),
        cell("code", "n = 3"),
        cell("code", "squares, unused = [i * i for i in range(n)], 'SECRET-CODE'", *(["solution"] if tagged else [])),
        cell("code", "assert squares == [0, 1, 4]\nprint('squares:', squares)",
             *(["exercise-check"] if tagged else []), outputs=printed),
        cell("md", END),
    ])


def test_solutions_are_removed_and_checks_kept():
    student, plan = se.student_notebook(demo())
    text = "\n".join(c.source for c in student.cells)
    for secret in ("SECRET-PROSE", "SECRET-CODE", "SECRET-ANSWER", "{solution"):
        assert secret not in text
    assert "A closing remark." in text and ":label: ex-demo-2" in text
    stub = [c for c in student.cells if se.STUB in c.metadata.get("tags", [])]
    assert len(stub) == 1 and stub[0].source.splitlines()[-1] == "squares = None"
    assert "unused" not in stub[0].source            # the check does not read it
    [(index, (label, solutions, _))] = plan.items()
    check = student.cells[index]
    assert label == "ex-demo-1" and check.outputs == [] and check.execution_count is None
    assert check.source.splitlines()[0] == se.guard_line("ex-demo-1", ["squares"])
    assert [c.source for c in solutions] == [demo().cells[4].source]
    assert "n = 3" in text                           # given data stays


def test_an_untagged_notebook_loses_all_code_in_its_solutions():
    student, plan = se.student_notebook(demo(tagged=False))
    text = "\n".join(c.source for c in student.cells)
    assert not plan and "SECRET-CODE" not in text and "squares" not in text.replace("the squares", "")


def test_names_are_found_as_the_check_needs_them():
    assert se.bound_names("a, (b, c) = 1, (2, 3)\nfor i in range(2):\n    d = i\n"
                          "def f(x):\n    inner = x\nimport numpy.linalg as la") == ["a", "b", "c", "i", "d", "f", "la"]
    solution = nbformat.v4.new_code_cell("x = 1\ny = 2\ndef g(): return 3")
    check = nbformat.v4.new_code_cell("z = 5\nassert g() + x == 4 and z")
    assert se.needed_names([solution], [check]) == ["x", "g"]


def test_a_guard_fails_clearly_and_passes_numpy_arrays():
    np = pytest.importorskip("numpy")
    namespace = {"a": None, "b": np.arange(3)}
    with pytest.raises(AssertionError, match="ex-x is not solved yet: set a, b"):
        exec(se.guard_line("ex-x", ["a", "b"]), namespace)
    namespace["a"] = np.zeros(2)
    exec(se.guard_line("ex-x", ["a", "b"]), namespace)


def test_the_round_trip_runs_the_student_edition_and_the_solutions(tmp_path):
    nb = demo()
    nb.cells[5].source = "print('squares:', [0, 1, 4])"      # reads nothing the solution sets
    with pytest.raises(ValueError, match="reads no name"):
        se.student_notebook(nb)
    path = tmp_path / "demo.ipynb"
    nbformat.write(demo(), path)
    unchecked = "ex-demo-2 has no cell tagged 'exercise-check'"    # its solution is prose only
    assert se.round_trip(path, se.sanitizers()) == ([unchecked], 1)
    nb = demo()
    nb.cells[4].source = "squares = [0, 1, 5]"                 # a wrong solution
    nb.cells[0].source = "print(2 + 2)"                        # and an output not stored
    nbformat.write(nb, path)
    problems, _ = se.round_trip(path, se.sanitizers())
    assert problems[0] == unchecked
    assert problems[1] == "cell 0: output differs from the instructor's notebook"
    assert problems[2].startswith("cell 4: the check of ex-demo-1 fails with its solution: AssertionError")
    assert len(problems) == 3


@pytest.fixture(params=CHAPTERS, ids=lambda p: p.name)
def chapter(request):
    return nbformat.read(request.param, as_version=4)


def test_no_solution_is_left_in_the_student_edition(chapter):
    student, _ = se.student_notebook(chapter)
    text = "\n".join(c.source for c in student.cells)
    assert "{solution" not in text
    for original in chapter.cells:
        if se.SOLUTION in original.metadata.get("tags", []):
            assert original.source.strip() not in text
    stubs = [c for c in student.cells if se.STUB in c.metadata.get("tags", [])]
    labels = se.exercises(chapter)
    assert len(stubs) == sum(bool(cells["solutions"]) for cells in labels.values())


def test_the_student_site_never_launches_the_instructors_notebooks():
    config = (ROOT / "_config.yml").read_text()
    alone = se.student_config(config)
    assert "(student edition)" in alone and 'binderhub_url: ""' in alone and 'colab_url: ""' in alone
    assert "use_repository_button: false" in alone
    forked = se.student_config(config, "https://github.com/someone/students")
    assert "url: https://github.com/someone/students" in forked and "mybinder.org" in forked
