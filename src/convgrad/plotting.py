"""Figure style and animation embedding shared by the chapters.

The book's theme has a dark mode, so every figure carries its own opaque
white background: black text on a transparent PNG would vanish on a dark
page. Animations are embedded as self-contained HTML (frames inline, no files
beside the notebook) with an id derived from the frames, so the stored output
is the same on every run and nbval can compare it. The player requests
nothing from outside the page: matplotlib's template loads Font Awesome from
a CDN for its button icons, which are replaced here by inline SVG.
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


# Matplotlib's player draws its buttons with Font Awesome icons from a CDN;
# each icon is drawn instead by a small inline SVG (16 x 16, the text colour).
_ICON_SHAPES = {
    "fa-minus": '<rect x="2" y="7" width="12" height="2"/>',
    "fa-plus": '<rect x="2" y="7" width="12" height="2"/><rect x="7" y="2" width="2" height="12"/>',
    "fa-play": '<polygon points="4,2 14,8 4,14"/>',
    "fa-play fa-flip-horizontal": '<polygon points="12,2 2,8 12,14"/>',
    "fa-pause": '<rect x="3" y="2" width="4" height="12"/><rect x="9" y="2" width="4" height="12"/>',
    "fa-step-forward": '<polygon points="2,2 11,8 2,14"/><rect x="11" y="2" width="3" height="12"/>',
    "fa-step-backward": '<polygon points="14,2 5,8 14,14"/><rect x="2" y="2" width="3" height="12"/>',
    "fa-fast-forward": '<polygon points="1,2 7,8 1,14"/><polygon points="7,2 13,8 7,14"/>'
                       '<rect x="13" y="2" width="2" height="12"/>',
    "fa-fast-backward": '<polygon points="15,2 9,8 15,14"/><polygon points="9,2 3,8 9,14"/>'
                        '<rect x="1" y="2" width="2" height="12"/>',
}
_FONT_AWESOME_LINK = re.compile(r'<link rel="stylesheet"\s+href="[^"]*font-awesome[^"]*">\s*')
_ICON = re.compile(r'<i class="fa ([a-z -]+)"></i>')


def _inline_icons(html):
    """``to_jshtml``'s page with no Font Awesome: no stylesheet link, SVG icons."""
    html, links = _FONT_AWESOME_LINK.subn("", html)
    if links != 1:
        raise RuntimeError("unexpected to_jshtml output: expected one Font Awesome link")

    def svg(match):
        shape = _ICON_SHAPES.get(match.group(1))
        if shape is None:
            raise RuntimeError(f"unexpected to_jshtml icon {match.group(1)!r}")
        return ('<svg viewBox="0 0 16 16" width="1em" height="1em" fill="currentColor" '
                f'aria-hidden="true" focusable="false">{shape}</svg>')

    html = _ICON.sub(svg, html)
    if "font-awesome" in html or 'class="fa ' in html:
        raise RuntimeError("unexpected to_jshtml output: Font Awesome left in the player")
    return html


def use_course_style():
    """Apply the course's matplotlib settings (white background, readable sizes)."""
    mpl.rcParams.update(COURSE_STYLE)
    mpl.rcParams["animation.embed_limit"] = 40  # MB of inline frames allowed


# The player keeps its own light background and dark text: in the book's dark
# theme an HTML output sits on a light panel, where the theme's light text
# would be unreadable (WCAG asks for a contrast of 4.5:1; this is about 16:1).
_PLAYER_STYLE = "background-color:#ffffff;color:#212121;margin:0;padding:0.25rem"
_CAPTION_STYLE = "color:#212121"


# Frames narrower than this are drawn at a higher resolution: the player shows
# a frame at its pixel size, and at 640 px a figure's 10-point text is about
# 18 px high, the size of the page's body text (a 4.8-inch figure at 55 dpi
# gave 264-px frames with 7-px text).
MIN_FRAME_WIDTH_PX = 640


def _legible(fig):
    """Raise ``fig``'s resolution so that its frames are at least MIN_FRAME_WIDTH_PX wide."""
    needed = MIN_FRAME_WIDTH_PX / fig.get_figwidth()
    if fig.dpi < needed:
        fig.set_dpi(needed)


def _check_nothing_clipped(fig):
    """Raise if the frame last drawn has text or axes outside the figure (a cut title)."""
    inside, drawn = fig.bbox, fig.get_tightbbox().transformed(fig.dpi_scale_trans)
    slack = 1.0  # pixels
    if (drawn.x0 < inside.x0 - slack or drawn.y0 < inside.y0 - slack
            or drawn.x1 > inside.x1 + slack or drawn.y1 > inside.y1 + slack):
        raise ValueError(
            "the animation draws outside its figure, so part of a frame is cut off "
            f"(drawn {drawn.bounds}, figure {inside.bounds} px): set the titles and labels "
            "before fig.tight_layout(), or create the figure with layout='constrained'")


def animation_html(animation, fps=None, caption=None, alt=None):
    """Return an ``IPython.display.HTML`` that plays ``animation`` on the static site.

    animation: a ``matplotlib.animation.Animation``.
    fps:       frames per second; default the animation's own interval.
    caption:   text shown under the player.
    alt:       the frames' alt text and the player's label for screen readers (default: caption).

    Frames are drawn at least ``MIN_FRAME_WIDTH_PX`` wide (the figure's dpi is
    raised if needed), so their text reads at the page's size; a frame drawing
    text outside the figure (a title cut at the top) raises ``ValueError``.
    Matplotlib's ``to_jshtml`` names its player with a random UUID; that name
    is replaced by a hash of the frames, so re-running an unchanged notebook
    stores byte-identical output. Its buttons' Font Awesome icons (a CDN
    stylesheet) become inline SVG, so the page loads nothing from outside.
    To number the caption like the book's other figures, give it in the
    cell's ``mystnb.figure`` metadata and pass only ``alt`` here.
    """
    from IPython.display import HTML

    fig = animation._fig  # matplotlib keeps the animated figure here (no public accessor)
    _legible(fig)
    html = _inline_icons(animation.to_jshtml(fps=fps, default_mode="once"))
    _check_nothing_clipped(fig)
    uuids = sorted(set(re.findall(r"_anim_img([0-9a-f]{32})", html)))
    if len(uuids) != 1:
        raise RuntimeError("unexpected to_jshtml output: expected one player id, "
                           f"found {len(uuids)}")
    stable = hashlib.sha256(html.replace(uuids[0], "").encode()).hexdigest()[:32]
    html = html.replace(uuids[0], stable)
    alt = caption if alt is None else alt
    label = ""
    if alt is not None:
        label = f' aria-label="{escape(alt)}"'
        image = f'<img id="_anim_img{stable}">'
        if html.count(image) != 1:
            raise RuntimeError("unexpected to_jshtml output: expected one frame image")
        html = html.replace(image, f'<img id="_anim_img{stable}" alt="{escape(alt)}">')
    if caption is None:
        return HTML(f'<div class="convgrad-animation" role="group"{label} '
                    f'style="{_PLAYER_STYLE}">{html}</div>')
    return HTML(f'<figure class="convgrad-animation" role="group"{label} style="{_PLAYER_STYLE}">'
                f'{html}<figcaption style="{_CAPTION_STYLE}">{escape(caption)}</figcaption></figure>')
