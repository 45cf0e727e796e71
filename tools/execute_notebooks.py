"""Re-execute notebooks in place, deterministically, so nbval can compare against them.

    python -m tools.execute_notebooks                 # every notebook listed in _toc.yml
    python -m tools.execute_notebooks chapters/03_conv1d.ipynb

Each notebook runs top to bottom in a fresh kernel started from this Python
(the project's virtual environment), in its own folder, with a fixed kernel
spec. Volatile metadata (timings, run dates, the Python patch version) is
stripped, so re-running an unchanged notebook leaves ``git diff`` empty.
"""

import argparse
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tools.notebook_rules import KERNELSPEC, LANGUAGE_INFO, ROOT, VOLATILE_CELL_METADATA, toc_notebooks


def normalise(nb):
    """Fix the notebook-level metadata and drop per-run cell metadata."""
    nb.metadata = nbformat.from_dict({
        key: value for key, value in nb.metadata.items()
        if key not in ("kernelspec", "language_info", "widgets", "toc", "varInspector")
    })
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = LANGUAGE_INFO
    for cell in nb.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)
            for output in cell.outputs:
                output.get("metadata", {}).pop("execution", None)
    return nb


def merge_streams(outputs):
    """Join consecutive stream outputs of the same name into one.

    How a cell's printing is cut into stream messages depends on timing, so
    unmerged chunks would make two runs of the same notebook differ.
    """
    merged = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.output_type == "stream" and previous is not None
                and previous.output_type == "stream" and previous.name == output.name):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


def execute(path, timeout):
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    nbformat.validate(nb)
    nbformat.write(normalise(nb), path)
    return elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to run (default: every notebook in _toc.yml)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or toc_notebooks()
    for path in paths:
        if path.suffix != ".ipynb" or not path.is_file():
            parser.error(f"not a notebook file: {path}")
        elapsed = execute(path, args.timeout)
        print(f"executed {path.relative_to(ROOT)} in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
