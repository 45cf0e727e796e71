"""The built site loads nothing from outside: MathJax comes from the pinned
package, Thebe is gone, and the animation player needs no icon font."""

import ast
import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402

from convgrad.plotting import animation_html  # noqa: E402
from tools import offline_site  # noqa: E402
from tools.notebook_rules import ROOT  # noqa: E402

URL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


def test_config_points_mathjax_at_the_local_copy():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    sphinx = config["sphinx"]
    assert "tools.offline_site" in sphinx["local_extensions"]
    assert sphinx["config"]["mathjax_path"] == f"{offline_site.TARGET}/{offline_site.BUNDLE}"


def test_the_mathjax_copy_has_the_bundle_its_fonts_and_autoloaded_extensions():
    files = dict((relative, source) for source, relative in
                 offline_site.mathjax_files(offline_site.mathjax_source()))
    assert offline_site.BUNDLE in files and "LICENSE" in files
    assert "output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff" in files
    assert "input/tex/extensions/boldsymbol.js" in files
    assert all(source.is_file() for source in files.values())
    bundle = files[offline_site.BUNDLE].read_text(encoding="utf-8")
    assert "3.2.2" in bundle  # the pinned release


def test_animation_player_requests_nothing_from_outside():
    pytest.importorskip("IPython")
    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=40, layout="constrained")
    line = ax.plot([0, 1], [0, 0])[0]
    anim = FuncAnimation(fig, lambda v: line.set_ydata([0, v]), frames=[0.0, 1.0])
    page = animation_html(anim).data
    plt.close(fig)
    assert not URL.search(page), "the player links to another site"
    assert "font-awesome" not in page and 'class="fa ' not in page
    assert page.count("<svg ") == 9  # one icon per button


CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def _imports(tree):
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _catches_import_error(handler):
    caught = handler.type
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    return any(isinstance(name, ast.Name) and name.id in ("ImportError", "ModuleNotFoundError")
               for name in names)


def imported_modules(path, optional=False):
    """Top-level names of every module a notebook's code cells import: those it needs, or with
    ``optional=True`` those imported inside ``try: ... except ImportError`` (the cell runs without them)."""
    import nbformat

    needed, guarded = set(), set()
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                           for line in cell.source.splitlines())
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers if h.type):
                for statement in node.body:
                    guarded |= _imports(statement)
        needed |= _imports(tree)
    return guarded if optional else needed - guarded


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_a_downloaded_notebook_imports_only_installed_packages(path):
    # The page's "download .ipynb" is the chapter file itself (make check-site
    # compares the bytes); away from this repository it must still run, so it
    # may import only the standard library and installed distributions
    # (convgrad among them), never a module that is found because the notebook
    # sits next to tools/ or tests/.
    import importlib.metadata
    import sys

    installed = importlib.metadata.packages_distributions()
    missing = sorted(name for name in imported_modules(path)
                     if name not in sys.stdlib_module_names and name not in installed)
    assert not missing, f"{path.name} imports modules no installed package provides: {missing}"
    assert "convgrad" in imported_modules(path) and "convgrad" in installed


def test_optional_imports_are_recognised():
    # Chapter 9 times PyTorch beside convgrad when it is installed: its import is guarded, so the
    # downloaded notebook runs without it, and the test above must not count it as needed.
    chapter_9 = ROOT / "chapters" / "09_im2col.ipynb"
    assert "torch" in imported_modules(chapter_9, optional=True)
    assert "torch" not in imported_modules(chapter_9)


def test_launch_buttons_come_from_the_repository_setting():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["repository"]["url"].startswith("https://github.com/")
    assert config["launch_buttons"]["binderhub_url"] and config["launch_buttons"]["colab_url"]
    requirements = (ROOT / "requirements.txt").read_text().split()
    assert requirements[-1] == "." and requirements[-2] == "-e"   # Binder installs convgrad too


def test_search_summaries_are_off_only_from_disk():
    assert 'protocol === "file:"' in offline_site.SEARCH_FROM_DISK
    assert "SHOW_SEARCH_SUMMARY = false" in offline_site.SEARCH_FROM_DISK
