"""A Sphinx extension that makes the built book self-contained.

Listed in ``_config.yml`` under ``sphinx: local_extensions``. It does two things:

* **MathJax from the site itself.** The pinned PyPI package
  ``django-static-mathjax`` (in requirements.txt) ships MathJax 3's browser
  build. After a successful HTML build, the parts a browser can load (the
  ``tex-mml-chtml.js`` bundle, its fonts, the TeX extensions it autoloads,
  the menu and the accessibility components) are copied into
  ``_build/html/_static/mathjax/``, and ``mathjax_path`` in ``_config.yml``
  points there. Nothing is fetched when the book is built or read, and pages
  opened from ``file://`` show typeset maths.
* **No Thebe.** Jupyter Book always loads ``sphinx_thebe``, whose loader names
  a CDN and whose config block names a Binder repository; no page of the book
  has a Thebe button, so its event handlers and stylesheet are removed here.
* **Search from ``file://``.** Sphinx's search page loads its index with a
  script tag, which works from disk, but then fetches every result page to
  show a summary under it; a browser refuses ``fetch`` of ``file://`` URLs, so
  each result logged an error. Pages opened from disk turn the summaries off
  (``SEARCH_FROM_DISK``); served over http they keep them.
"""

import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

# Where MathJax goes in the built site, relative to _static (mathjax_path's base).
TARGET = "mathjax"
BUNDLE = "tex-mml-chtml.js"
# Sub-folders of MathJax's es5/ that the bundle may load at reading time.
LOADED_LATER = ("input/tex/extensions", "input/mml/extensions", "output/chtml", "ui", "a11y", "sre")


def mathjax_source():
    """The folder of MathJax's browser build inside the installed package."""
    try:
        import mathjax  # the django-static-mathjax distribution
    except ImportError as error:
        raise ExtensionError(
            "MathJax is not installed: `pip install -r requirements.txt` "
            "(it pins django-static-mathjax, which ships MathJax 3)") from error
    root = Path(mathjax.__file__).parent / "static" / "mathjax"
    if not (root / "es5" / BUNDLE).is_file():
        raise ExtensionError(f"the installed MathJax package has no es5/{BUNDLE}: {root}")
    return root


def mathjax_files(root):
    """(source, path relative to _static/mathjax) for every file the site serves."""
    es5 = root / "es5"
    yield root / "LICENSE", "LICENSE"
    yield es5 / BUNDLE, BUNDLE
    for folder in LOADED_LATER:
        for path in sorted((es5 / folder).rglob("*")):
            if path.is_file():
                yield path, path.relative_to(es5).as_posix()


def check_config(app, config):
    expected = f"{TARGET}/{BUNDLE}"
    if config.mathjax_path != expected:
        raise ExtensionError(f"mathjax_path is {config.mathjax_path!r}; the site serves "
                             f"MathJax itself, so set it to {expected!r} in _config.yml")
    mathjax_source()  # fail early, before reading any page


def copy_mathjax(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    root = mathjax_source()
    target = Path(app.outdir) / "_static" / TARGET
    for source, relative in mathjax_files(root):
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)


def remove_thebe(app):
    for name, listeners in list(app.events.listeners.items()):
        for listener in list(listeners):
            if getattr(listener.handler, "__module__", "").startswith("sphinx_thebe"):
                app.disconnect(listener.id)
    app.registry.css_files = [(filename, attributes) for filename, attributes
                              in app.registry.css_files if "thebe" not in str(filename)]
    app.registry.js_files = [(filename, attributes) for filename, attributes
                             in app.registry.js_files if "thebe" not in str(filename)]


# Run on every page after documentation_options.js (priority 200) defines the options.
SEARCH_FROM_DISK = ('if (window.location.protocol === "file:" && typeof DOCUMENTATION_OPTIONS !== "undefined") '
                    "{ DOCUMENTATION_OPTIONS.SHOW_SEARCH_SUMMARY = false; }")


def setup(app):
    remove_thebe(app)
    app.add_js_file(None, body=SEARCH_FROM_DISK, priority=500)
    app.connect("config-inited", check_config)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
