"""Figure style and animation embedding shared by the chapters.

The book's theme has a dark mode, so every figure carries its own opaque
white background: black text on a transparent PNG would vanish on a dark
page. Animations are embedded as self-contained HTML (frames inline, no files
beside the notebook) with an id derived from the frames, so the stored output
is the same on every run and nbval can compare it.
"""

import hashlib
import re
from html import escape

import matplotlib as mpl

__all__ = ["use_course_style", "animation_html"]

COURSE_STYLE = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.transparent": False,
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.titlesize": "medium",
    "legend.frameon": False,
    # Fixed ids in SVG output (PNG output carries no date), so figures are byte-stable.
    "svg.hashsalt": "convgrad",
}


def use_course_style():
    """Apply the course's matplotlib settings (white background, readable sizes)."""
    mpl.rcParams.update(COURSE_STYLE)
    mpl.rcParams["animation.embed_limit"] = 40  # MB of inline frames allowed


def animation_html(animation, fps=None, caption=None):
    """Return an ``IPython.display.HTML`` that plays ``animation`` on the static site.

    animation: a ``matplotlib.animation.Animation``.
    fps:       frames per second; default the animation's own interval.
    caption:   text shown under the player and given to screen readers as its label.

    Matplotlib's ``to_jshtml`` names its player with a random UUID; that name
    is replaced by a hash of the frames, so re-running an unchanged notebook
    stores byte-identical output.
    """
    from IPython.display import HTML

    html = animation.to_jshtml(fps=fps, default_mode="once")
    uuids = sorted(set(re.findall(r"_anim_img([0-9a-f]{32})", html)))
    if len(uuids) != 1:
        raise RuntimeError("unexpected to_jshtml output: expected one player id, "
                           f"found {len(uuids)}")
    stable = hashlib.sha256(html.replace(uuids[0], "").encode()).hexdigest()[:32]
    html = html.replace(uuids[0], stable)
    if caption is not None:
        text = escape(caption)
        html = (f'<figure role="group" aria-label="{text}">{html}'
                f'<figcaption>{text}</figcaption></figure>')
    return HTML(html)
