"""The figure helpers draw what a convolution computes: checked against conv2d itself."""

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from convgrad.diagrams import draw_conv2d, footprint, output_shape, sliding_animation, unread_indices  # noqa: E402
from convgrad.functional import conv2d, conv2d_backward  # noqa: E402

CASES = [  # (H, W), (kh, kw), stride, padding, dilation
    ((5, 5), (3, 3), 1, 0, 1),
    ((5, 6), (3, 2), 2, 1, 1),
    ((7, 7), (3, 3), 1, 0, 2),
    ((6, 5), (2, 3), (2, 1), (1, 0), (1, 2)),
    ((5, 5), (3, 3), 3, 0, 1),
]


def _gids(ax, kind):
    found = set()
    for patch in ax.patches:
        gid = patch.get_gid() or ""
        if gid.startswith(kind + " "):
            found.add(tuple(int(v) for v in gid.split()[1:]))
    return found


def _pair(v):
    return (v, v) if isinstance(v, int) else v


def _read_by_conv2d(size, k, stride, padding, dilation, i, j):
    """Padded-input positions (unpadded coordinates) that output (i, j) depends on, found by conv2d."""
    (H, W), (ph, pw) = size, _pair(padding)
    read = set()
    for r, c in itertools.product(range(H + 2 * ph), range(W + 2 * pw)):
        probe = np.zeros((1, 1, H + 2 * ph, W + 2 * pw))
        probe[0, 0, r, c] = 1.0               # a unit pixel, padding written out by hand
        out = conv2d(probe, np.ones((1, 1) + k), stride=stride, dilation=dilation)
        if out[0, 0, i, j] != 0:
            read.add((r - ph, c - pw))
    return read


@pytest.mark.parametrize("size, k, stride, padding, dilation", CASES)
def test_output_shape_is_conv2ds(size, k, stride, padding, dilation):
    out = conv2d(np.zeros((1, 1) + size), np.zeros((1, 1) + k), stride=stride, padding=padding, dilation=dilation)
    assert output_shape(size, k, stride, padding, dilation) == out.shape[2:]


@pytest.mark.parametrize("size, k, stride, padding, dilation", CASES)
def test_drawn_footprint_is_what_conv2d_reads(size, k, stride, padding, dilation):
    Ho, Wo = output_shape(size, k, stride, padding, dilation)
    for i, j in [(0, 0), (Ho - 1, Wo - 1), (Ho // 2, Wo - 1)]:
        fig, ax = plt.subplots()
        info = draw_conv2d(ax, size, k, stride, padding, dilation, position=(i, j))
        expected = _read_by_conv2d(size, k, stride, padding, dilation, i, j)
        assert _gids(ax, "footprint") == expected
        assert {tuple(cell) for cell in info["footprint"]} == expected
        assert set(map(tuple, footprint((i, j), k, stride, padding, dilation))) == expected
        assert _gids(ax, "current") == {(i, j)}
        plt.close(fig)


@pytest.mark.parametrize("size, k, stride, padding, dilation", CASES)
def test_counts_of_cells_drawn(size, k, stride, padding, dilation):
    (H, W), (ph, pw) = size, _pair(padding)
    Ho, Wo = output_shape(size, k, stride, padding, dilation)
    fig, ax = plt.subplots()
    draw_conv2d(ax, size, k, stride, padding, dilation, position=(0, 0))
    n_foot = k[0] * k[1]
    pad_under = sum(1 for r, c in footprint((0, 0), k, stride, padding, dilation)
                    if not (0 <= r < H and 0 <= c < W))
    assert len(_gids(ax, "footprint")) == n_foot
    assert len(_gids(ax, "input")) == H * W - (n_foot - pad_under)
    assert len(_gids(ax, "padding")) == (H + 2 * ph) * (W + 2 * pw) - H * W - pad_under
    assert len(_gids(ax, "output")) + len(_gids(ax, "current")) == Ho * Wo
    plt.close(fig)


@pytest.mark.parametrize("size, k, stride, padding, dilation", CASES + [((7, 7), (3, 3), 2, 0, 2)])
def test_unread_pixels_are_the_ones_without_gradient(size, k, stride, padding, dilation):
    # conv2d_backward with all-ones kernel and upstream gradient counts how often each pixel is read
    x = np.ones((1, 1) + size)
    Ho, Wo = output_shape(size, k, stride, padding, dilation)
    grad_x, _, _ = conv2d_backward(np.ones((1, 1, Ho, Wo)), x, np.ones((1, 1) + k),
                                   stride=stride, padding=padding, dilation=dilation)
    never = grad_x[0, 0] == 0
    s, p, d = _pair(stride), _pair(padding), _pair(dilation)
    rows = unread_indices(size[0], k[0], s[0], p[0], d[0])
    cols = unread_indices(size[1], k[1], s[1], p[1], d[1])
    expected = np.zeros(size, dtype=bool)
    expected[rows, :] = True
    expected[:, cols] = True
    assert np.array_equal(never, expected)
    fig, ax = plt.subplots()
    info = draw_conv2d(ax, size, k, stride, padding, dilation, position=None, mark_unread=True)
    assert _gids(ax, "unread") == set(zip(*np.nonzero(never))) == set(info["unread"])
    plt.close(fig)


def test_stride_three_skips_the_last_row_and_column():
    assert unread_indices(5, 3, stride=3).tolist() == [3, 4]
    assert unread_indices(5, 3, stride=2).tolist() == []
    assert unread_indices(7, 3, stride=1, dilation=2).tolist() == []
    assert unread_indices(7, 3, stride=2, dilation=2).tolist() == [1, 3, 5]


def test_values_and_output_are_written_into_the_cells():
    x = np.arange(1.0, 10.0).reshape(3, 3)
    out = conv2d(x[None], np.ones((1, 1, 2, 2)), padding=1)[0]           # 4 x 4
    fig, ax = plt.subplots()
    draw_conv2d(ax, 3, 2, padding=1, values=np.pad(x, 1), output=out, position=None)
    texts = sorted(t.get_text() for t in ax.texts if not t.get_text().startswith(("input", "output")))
    assert texts == sorted([f"{v:g}" for v in np.pad(x, 1).ravel()] + [f"{v:g}" for v in out.ravel()])
    plt.close(fig)
    fig, ax = plt.subplots()                                             # part-way: 5 outputs computed
    draw_conv2d(ax, 3, 2, padding=1, values=np.pad(x, 1), output=out, position=(1, 0))
    shown = [t.get_text() for t in ax.texts][25:-2]
    assert shown == [f"{v:g}" for v in out.ravel()[:5]]
    plt.close(fig)


def test_animation_has_one_frame_per_output_position():
    anim = sliding_animation(5, 3, stride=2, padding=1)
    assert output_shape(5, 3, 2, 1) == (3, 3)
    assert len(list(anim.new_frame_seq())) == 9
    anim._init_draw()                                 # draws frame 0 (matplotlib warns about unrendered ones)
    assert _gids(anim._fig.axes[0], "current") == {(0, 0)}
    plt.close(anim._fig)
    x, w = np.arange(16.0).reshape(4, 4), np.array([[1.0, 0.0], [0.0, -1.0]])
    anim = sliding_animation((4, 4), (2, 2), x=x, weight=w, padding_mode="reflect", padding=1)
    assert len(list(anim.new_frame_seq())) == 25
    anim._init_draw()
    anim._func(7)                                     # the eighth frame: output (1, 2), filled up to it
    ax = anim._fig.axes[0]
    assert _gids(ax, "current") == {(1, 2)}
    assert set(map(tuple, footprint((1, 2), 2, 1, 1))) == _gids(ax, "footprint")
    assert len(_gids(ax, "output")) == 24
    plt.close(anim._fig)


@pytest.mark.parametrize("call, message", [
    (lambda: output_shape(3, 5), "more than the padded input's 3"),
    (lambda: output_shape(7, 3, dilation=4), "spans 9 pixels"),
    (lambda: output_shape(5, 3, stride=0), "stride must be >= 1"),
    (lambda: output_shape(5, 3, padding=-1), "padding must be >= 0"),
    (lambda: output_shape(5, (3, 3, 3)), "kernel_size must be an int or a pair"),
    (lambda: footprint((0, -1), 3), "position must be >= 0"),
    (lambda: unread_indices((5, 5), 3), "one axis"),
    (lambda: draw_conv2d(plt.gca(), 5, 3, position=(3, 0)), "outside the output"),
    (lambda: draw_conv2d(plt.gca(), 5, 3, values=np.zeros((5, 5)), padding=1), "padded input's shape"),
    (lambda: draw_conv2d(plt.gca(), 5, 3, output=np.zeros((2, 2))), "output's shape"),
    (lambda: sliding_animation(4, 2, x=np.zeros((4, 4))), "both x and weight"),
    (lambda: sliding_animation(4, 2, x=np.zeros((3, 4)), weight=np.zeros((2, 2))), "x must be"),
])
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
    plt.close("all")
