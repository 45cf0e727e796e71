"""The figure style and the animation embedding the chapters rely on."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402

from convgrad.plotting import animation_html, use_course_style  # noqa: E402


def _animation(values):
    fig, ax = plt.subplots(figsize=(2, 1.5), dpi=40)
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
