"""The book's structure and every notebook's hygiene.

nbval (run by the same pytest command) checks that each stored output is
what the code produces; these tests check what nbval cannot: that the TOC and
the chapters agree, and that each committed notebook is clean.
"""

import json

import nbformat
import pytest

from tools.notebook_rules import (
    ABSOLUTE_PATH,
    ALLOWED_NOTEBOOK_METADATA,
    KERNELSPEC,
    LANGUAGE_INFO,
    MEMORY_ADDRESS,
    ROOT,
    VOLATILE_CELL_METADATA,
    exercise_problems,
    toc_files,
)

NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def test_there_are_chapters():
    assert NOTEBOOKS, "no notebooks found in chapters/"


def test_every_chapter_notebook_is_in_the_toc():
    listed = set(toc_files())
    missing = [nb.relative_to(ROOT).with_suffix("").as_posix() for nb in NOTEBOOKS]
    missing = [name for name in missing if name not in listed]
    assert not missing, f"notebooks in chapters/ but not in _toc.yml: {missing}"


def test_every_toc_entry_exists():
    absent = [name for name in toc_files()
              if not any((ROOT / f"{name}{ext}").is_file() for ext in (".ipynb", ".md"))]
    assert not absent, f"_toc.yml lists files that do not exist: {absent}"


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_notebook_is_valid_nbformat(notebook):
    _, nb = notebook
    nbformat.validate(nb)


def test_notebook_ran_top_to_bottom(notebook):
    _, nb = notebook
    code = [cell for cell in nb.cells if cell.cell_type == "code" and cell.source.strip()]
    counts = [cell.execution_count for cell in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"execution counts {counts}: re-execute with `make execute NB=...`")


def test_notebook_has_no_errors_or_warnings_stored(notebook):
    _, nb = notebook
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"cell {index} stored an error"
            assert output.get("name") != "stderr", (
                f"cell {index} stored stderr output: {output.get('text', '')[:200]!r}")


def test_notebook_outputs_have_no_paths_or_addresses(notebook):
    _, nb = notebook
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            texts = [output.get("text", "")]
            texts += [value for key, value in output.get("data", {}).items()
                      if key.startswith("text/") and key != "text/html"]
            text = "".join("".join(t) if isinstance(t, list) else t for t in texts)
            assert not ABSOLUTE_PATH.search(text), f"cell {index} output shows an absolute path"
            assert not MEMORY_ADDRESS.search(text), f"cell {index} output shows a memory address"


def test_notebook_metadata_is_normalised(notebook):
    _, nb = notebook
    extra = set(nb.metadata) - ALLOWED_NOTEBOOK_METADATA
    assert not extra, f"volatile notebook metadata {sorted(extra)}: re-execute with `make execute`"
    assert nb.metadata.kernelspec == KERNELSPEC
    assert nb.metadata.language_info == LANGUAGE_INFO
    for index, cell in enumerate(nb.cells):
        volatile = set(cell.metadata) & set(VOLATILE_CELL_METADATA)
        assert not volatile, f"cell {index} carries volatile metadata {sorted(volatile)}"
        for output in cell.get("outputs", []):
            assert "execution" not in output.get("metadata", {}), f"cell {index} output has timing metadata"


def test_notebook_follows_the_chapter_structure(notebook):
    path, nb = notebook
    headings = [line.strip() for cell in nb.cells if cell.cell_type == "markdown"
                for line in cell.source.splitlines() if line.startswith("#")]
    assert headings and headings[0].startswith("# "), f"{path.name} must open with a '# ' title"
    assert "## Summary" in headings, f"{path.name} has no '## Summary' section"
    assert "## Exercises" in headings, f"{path.name} has no '## Exercises' section"
    assert headings.index("## Summary") < headings.index("## Exercises")


def test_notebook_has_no_placeholders(notebook):
    path, nb = notebook
    text = json.dumps([cell.source for cell in nb.cells])
    for marker in ("TODO", "FIXME", "XXX", "NotImplemented"):
        assert marker not in text, f"{path.name} contains {marker!r}"


NBVAL_MARKERS = ("NBVAL_IGNORE_OUTPUT", "NBVAL_CHECK_OUTPUT", "NBVAL_RAISES_EXCEPTION",
                 "NBVAL_SKIP", "PYTEST_VALIDATE_IGNORE_OUTPUT")


def test_notebook_ignores_output_only_with_a_reason(notebook):
    # The cell tag `nbval-ignore-output` hides a cell from the strict comparison:
    # the course allows it for timings, and only in a cell whose first line is a
    # comment saying why. Tags are not shown on the website; nbval's comment
    # markers (`# NBVAL_...`) would be, so they are not used.
    path, nb = notebook
    for index, cell in enumerate(nb.cells):
        for line in cell.source.splitlines():
            marker = line.strip().lstrip("#").strip()
            assert marker not in NBVAL_MARKERS, (
                f"{path.name} cell {index}: `{line.strip()}` shows the test harness to readers; "
                "use the cell tag `nbval-ignore-output` (or `nbval-skip`, ...) instead")
        if "nbval-ignore-output" in cell.metadata.get("tags", []):
            lines = cell.source.splitlines()
            reason = lines[0].strip() if lines else ""
            assert reason.startswith("#") and len(reason) > 10, (
                f"{path.name} cell {index} ignores its output without a reason: "
                "its first line must be a comment saying why")


def test_exercises_follow_the_student_edition_rule(notebook):
    # README, "Exercises and the student edition": solution cells compute, check cells assert on the
    # names the solution binds, so that the student edition's checks fail unsolved and pass solved.
    _, nb = notebook
    problems = exercise_problems(nb)
    assert not problems, "; ".join(problems)
