"""The figure style and the animation embedding the chapters rely on."""

import base64
import re
import struct

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402

from convgrad.plotting import MIN_FRAME_WIDTH_PX, animation_html, use_course_style  # noqa: E402


def _animation(values, layout="constrained"):
    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=40, layout=layout)
    line = ax.plot([0, 1], [0, 0])[0]
    anim = FuncAnimation(fig, lambda v: line.set_ydata([0, v]), frames=values)
    return fig, anim


def test_use_course_style_gives_opaque_white_figures():
    use_course_style()
    assert matplotlib.rcParams["figure.facecolor"] == "white"
    assert matplotlib.rcParams["savefig.facecolor"] == "white"
    assert matplotlib.rcParams["savefig.transparent"] is False


def test_animation_html_is_the_same_on_every_run():
    pytest.importorskip("IPython")
    pages = []
    for _ in range(2):
        fig, anim = _animation([0.0, 0.5, 1.0])
        pages.append(animation_html(anim).data)
        plt.close(fig)
    assert pages[0] == pages[1]
    fig, anim = _animation([0.0, 0.25, 1.0])
    assert animation_html(anim).data != pages[0]  # the id follows the frames
    plt.close(fig)


def test_animation_html_caption_is_shown_and_escaped():
    pytest.importorskip("IPython")
    fig, anim = _animation([0.0, 1.0])
    page = animation_html(anim, caption='kernel <b> & "taps"').data
    plt.close(fig)
    escaped = "kernel &lt;b&gt; &amp; &quot;taps&quot;"
    assert page.startswith(f'<figure class="convgrad-animation" role="group" aria-label="{escaped}"')
    assert page.endswith(f">{escaped}</figcaption></figure>")
    assert f'alt="{escaped}"' in page  # the frames' alt text


def test_animation_html_alt_text_without_a_caption():
    pytest.importorskip("IPython")
    fig, anim = _animation([0.0, 1.0])
    page = animation_html(anim, alt="a line rising").data
    plt.close(fig)
    assert page.startswith('<div class="convgrad-animation" role="group" aria-label="a line rising"')
    assert 'alt="a line rising"' in page and "<figcaption" not in page


def test_animation_frames_are_drawn_wide_enough_to_read():
    pytest.importorskip("IPython")
    fig, anim = _animation([0.0, 1.0])  # 2 inches at 40 dpi: 80-px frames
    page = animation_html(anim, alt="a line").data
    plt.close(fig)
    frames = re.findall(r'data:image/png;base64,([A-Za-z0-9+/=\\\n]+)', page)
    assert len(frames) == 2
    png = base64.b64decode(frames[0].replace("\\", "").replace("\n", ""))
    width, height = struct.unpack(">II", png[16:24])  # the PNG header's IHDR
    assert width >= MIN_FRAME_WIDTH_PX and abs(width / height - 2 / 1.5) < 0.02


def test_animation_with_a_cut_title_is_refused():
    pytest.importorskip("IPython")
    fig, ax = plt.subplots(figsize=(3, 2))
    fig.subplots_adjust(top=0.99)  # no room above the axes for the title set below
    line = ax.plot([0, 1], [0, 0])[0]

    def draw(v):
        line.set_ydata([0, v])
        ax.set_title(f"value {v}")

    anim = FuncAnimation(fig, draw, frames=[0.0, 1.0])
    with pytest.raises(ValueError, match="cut off"):
        animation_html(anim, alt="a line")
    plt.close(fig)
