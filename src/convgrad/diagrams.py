"""Figures of a 2-D convolution in the style of the convolution-arithmetic guide.

Dumoulin and Visin's guide draws a convolution as two grids side by side: the
(padded) input, with the kernel's footprint at one output position shaded, and
the output, with the entry that footprint produces marked. This module draws
such pictures on a matplotlib ``Axes`` and builds the animation of the kernel
sliding over the padded input while the output fills in.

Coordinates are those of the code: 0-indexed, rows downwards, and an input
position ``(r, c)`` counted from the first row and column of the *unpadded*
input, so that padding cells have ``r < 0`` or ``r >= H``. With PyTorch's
arguments (``kernel_size``, ``stride``, ``padding``, ``dilation``, each an int
or a pair ``(along H, along W)``), output ``(i, j)`` reads the input positions

    (s_h*i + d_h*a - p_h,  s_w*j + d_w*b - p_w),   a = 0..kh-1,  b = 0..kw-1,

which is what :func:`convgrad.conv.conv2d` reads (its ``x_pad[s*i + d*a]``
shifted by the padding). Every drawn cell carries a ``gid`` saying what it is
(``"input r c"``, ``"padding r c"``, ``"footprint r c"``, ``"output i j"``,
``"current i j"``, ``"unread r c"``), so tests can read back what was drawn.
"""

import numpy as np
from matplotlib.animation import FuncAnimation
from matplotlib.patches import Rectangle

from ._args import _int_tuple, _is_int, _output_size

__all__ = ["output_shape", "footprint", "unread_indices", "draw_conv2d", "sliding_animation"]

INPUT_COLOUR = "#cfe2f3"      # light blue: the input's own pixels
PADDING_COLOUR = "#fce4cc"    # light orange (hatched unless numbers are written in): the padding ring
FOOTPRINT_COLOUR = "#1f5fa8"  # dark blue: the pixels the kernel reads at the current position
OUTPUT_COLOUR = "#d9ead3"     # light green: outputs already computed
CURRENT_COLOUR = "#2e7d32"    # dark green: the output being computed
UNREAD_COLOUR = "#c62828"     # red crosses: input pixels that no window reads
EMPTY_COLOUR = "white"        # outputs not computed yet


def _spec(input_size, kernel_size, stride, padding, dilation):
    return (_int_tuple(input_size, 2, "input_size", 1), _int_tuple(kernel_size, 2, "kernel_size", 1),
            _int_tuple(stride, 2, "stride", 1), _int_tuple(padding, 2, "padding", 0),
            _int_tuple(dilation, 2, "dilation", 1))


def output_shape(input_size, kernel_size, stride=1, padding=0, dilation=1):
    """The output size ``(H_out, W_out)`` of a 2-D convolution.

    ``H_out = floor((H + 2 p_h - d_h (kh - 1) - 1) / s_h) + 1``, likewise ``W_out``.

    Parameters
    ----------
    input_size, kernel_size : int >= 1 or pair ``(H, W)``, ``(kh, kw)``
    stride, dilation : int >= 1 or pair
    padding : int >= 0 or pair (the same on both sides)

    Returns
    -------
    (H_out, W_out) : tuple of ints

    Raises
    ------
    ValueError
        A malformed argument, or the dilated kernel (``d (k - 1) + 1`` pixels)
        larger than the padded input along some axis.
    """
    size, k, s, p, d = _spec(input_size, kernel_size, stride, padding, dilation)
    shape = []
    for axis, name in enumerate("HW"):
        span = d[axis] * (k[axis] - 1) + 1
        padded = size[axis] + 2 * p[axis]
        if span > padded:
            raise ValueError(f"the dilated kernel spans {span} pixels along {name}, more than the padded "
                             f"input's {padded} (input_size={input_size}, kernel_size={kernel_size}, "
                             f"padding={padding}, dilation={dilation})")
        shape.append(_output_size(size[axis], k[axis], s[axis], d[axis], p[axis], p[axis]))
    return tuple(shape)


def footprint(position, kernel_size, stride=1, padding=0, dilation=1):
    """The input positions the kernel reads for output ``position = (i, j)`` (0-indexed).

    Returns
    -------
    cells : int array ``(kh * kw, 2)``, rows ``(r, c) = (s_h i + d_h a - p_h, s_w j + d_w b - p_w)``
        in kernel order (``a`` slowest); positions outside ``0..H-1`` / ``0..W-1`` are padding.

    Raises
    ------
    ValueError
        ``position`` is not a pair of ints >= 0, or a malformed size argument.
    """
    i, j = _int_tuple(position, 2, "position", 0)
    k, s, p, d = (_int_tuple(kernel_size, 2, "kernel_size", 1), _int_tuple(stride, 2, "stride", 1),
                  _int_tuple(padding, 2, "padding", 0), _int_tuple(dilation, 2, "dilation", 1))
    a, b = np.meshgrid(np.arange(k[0]), np.arange(k[1]), indexing="ij")
    rows = s[0] * i + d[0] * a - p[0]
    cols = s[1] * j + d[1] * b - p[1]
    return np.stack([rows.ravel(), cols.ravel()], axis=1)


def unread_indices(size, kernel_size, stride=1, padding=0, dilation=1):
    """Along one axis: the input indices ``0..size-1`` that no window of the convolution reads.

    Parameters
    ----------
    size, kernel_size, stride, padding, dilation : ints for one axis (as in :func:`output_shape`)

    Returns
    -------
    unread : sorted int array of indices (empty when every row or column is read). A stride
        larger than the dilated kernel's span leaves gaps between windows; a stride that does not
        fit the padded size leaves the last rows out; a dilation leaves the holes of the kernel.

    Raises
    ------
    ValueError
        As :func:`output_shape`, or a size argument that is not a single int.
    """
    for value, name in [(size, "size"), (kernel_size, "kernel_size"), (stride, "stride"),
                        (padding, "padding"), (dilation, "dilation")]:
        if not _is_int(value):
            raise ValueError(f"unread_indices works along one axis: {name} must be an int, got {value!r}")
    n_out, _ = output_shape((size, 1), (kernel_size, 1), stride, padding, dilation)
    read = {stride * i + dilation * a - padding for i in range(n_out) for a in range(kernel_size)}
    return np.array([r for r in range(size) if r not in read], dtype=int)


def _cell(ax, row, col, gid, face, hatch=None, edge="0.35", text=None, text_colour="black", fontsize=8):
    rect = Rectangle((col, row), 1, 1, facecolor=face, edgecolor=edge, hatch=hatch, linewidth=0.8, gid=gid)
    ax.add_patch(rect)
    if text is not None:
        ax.text(col + 0.5, row + 0.5, text, ha="center", va="center", fontsize=fontsize, color=text_colour)
    return rect


def _label(value):
    return f"{value:g}" if isinstance(value, (int, float, np.integer, np.floating)) else str(value)


def draw_conv2d(ax, input_size, kernel_size, stride=1, padding=0, dilation=1, position=(0, 0),
                values=None, output=None, filled=None, show_output=True, mark_unread=False, title=None):
    """Draw the padded input, the kernel footprint at ``position`` and the output grid on ``ax``.

    Parameters
    ----------
    ax : matplotlib Axes (its axis lines are switched off, its aspect set equal)
    input_size, kernel_size, stride, padding, dilation : as in :func:`output_shape`
    position : pair ``(i, j)`` of the output entry whose footprint is shaded, or None for none
    values : optional array ``(H + 2 p_h, W + 2 p_w)``, numbers written into the padded input's cells
        (e.g. ``convgrad.padding.pad(x, (pw, pw, ph, ph), mode)``)
    output : optional array ``(H_out, W_out)``, numbers written into the computed output cells
    filled : number of output cells computed so far (row by row); default all of them, or the cells
        up to ``position`` when ``position`` is given
    show_output : draw the output grid to the right of the input
    mark_unread : cross out (in red) the input pixels that no window reads
    title : optional axes title

    Returns
    -------
    info : dict with ``"footprint"`` (the drawn footprint cells, as :func:`footprint`, or an empty
        array), ``"output_shape"`` and ``"unread"`` (a list of ``(r, c)`` crossed out)

    Raises
    ------
    ValueError
        A malformed argument, a kernel that does not fit, ``position`` outside the output,
        or ``values`` / ``output`` of the wrong shape.
    """
    (H, W), k, s, p, d = _spec(input_size, kernel_size, stride, padding, dilation)
    Ho, Wo = output_shape((H, W), k, s, p, d)
    Hp, Wp = H + 2 * p[0], W + 2 * p[1]
    if values is not None and np.shape(values) != (Hp, Wp):
        raise ValueError(f"values must have the padded input's shape {(Hp, Wp)}, got {np.shape(values)}")
    if output is not None and np.shape(output) != (Ho, Wo):
        raise ValueError(f"output must have the output's shape {(Ho, Wo)}, got {np.shape(output)}")
    cells = np.zeros((0, 2), dtype=int)
    if position is not None:
        i, j = _int_tuple(position, 2, "position", 0)
        if i >= Ho or j >= Wo:
            raise ValueError(f"position {position} is outside the output of shape {(Ho, Wo)}")
        cells = footprint((i, j), k, s, p, d)
        if filled is None:
            filled = i * Wo + j + 1
    filled = Ho * Wo if filled is None else int(filled)
    under = {(int(r), int(c)) for r, c in cells}
    unread = []
    if mark_unread:
        rows = set(unread_indices(H, k[0], s[0], p[0], d[0]).tolist())
        cols = set(unread_indices(W, k[1], s[1], p[1], d[1]).tolist())
        unread = [(r, c) for r in range(H) for c in range(W) if r in rows or c in cols]
    for r in range(-p[0], H + p[0]):
        for c in range(-p[1], W + p[1]):
            inside = 0 <= r < H and 0 <= c < W
            text = None if values is None else _label(values[r + p[0]][c + p[1]])
            if (r, c) in under:   # read by the kernel; hatched too when it is a padding cell
                kind, face, hatch, colour = "footprint", FOOTPRINT_COLOUR, None if inside or values is not None else "////", "white"
            elif inside:
                kind, face, hatch, colour = "input", INPUT_COLOUR, None, "black"
            else:
                kind, face, hatch, colour = "padding", PADDING_COLOUR, "////" if values is None else None, "black"
            _cell(ax, r + p[0], c + p[1], f"{kind} {r} {c}", face, hatch, text=text, text_colour=colour)
    for r, c in unread:
        _cell(ax, r + p[0], c + p[1], f"unread {r} {c}", "none", "xx", edge=UNREAD_COLOUR)
    if p[0] or p[1]:   # the border between the input and its padding
        ax.add_patch(Rectangle((p[1], p[0]), W, H, fill=False, edgecolor="black", linewidth=2))
    width = Wp
    if show_output:
        left, top = Wp + 1.5, (Hp - Ho) / 2
        for i in range(Ho):
            for j in range(Wo):
                done = i * Wo + j < filled
                current = position is not None and (i, j) == tuple(position)
                face = CURRENT_COLOUR if current else OUTPUT_COLOUR if done else EMPTY_COLOUR
                text = _label(output[i][j]) if output is not None and done else None
                _cell(ax, top + i, left + j, f"{'current' if current else 'output'} {i} {j}", face,
                      text=text, text_colour="white" if current else "black")
        ax.text(left + Wo / 2, top - 0.4, f"output {Ho}×{Wo}", ha="center", va="bottom", fontsize=9)
        width = left + Wo
    ax.text(Wp / 2, -0.4, f"input {H}×{W}" + (f", padding {p[0]}" if p[0] == p[1] and p[0] else
                                                  f", padding {p}" if p[0] or p[1] else ""),
            ha="center", va="bottom", fontsize=9)
    ax.set_xlim(-0.2, width + 0.2)
    ax.set_ylim(Hp + 0.2, -1.3)
    ax.set_aspect("equal")
    ax.axis("off")
    if title is not None:
        ax.set_title(title)
    return {"footprint": cells, "output_shape": (Ho, Wo), "unread": unread}


def sliding_animation(input_size, kernel_size, stride=1, padding=0, dilation=1, x=None, weight=None,
                      padding_mode="zeros", figsize=(5.2, 2.8), dpi=80, interval=700, title=None):
    """The kernel sliding over the padded input, the output filling in: one frame per output entry.

    Parameters
    ----------
    input_size, kernel_size, stride, padding, dilation : as in :func:`output_shape`
    x : optional ``(H, W)`` array; with ``weight`` the cells show the padded input's numbers and
        the output the values :func:`convgrad.conv.conv2d` computes
    weight : optional ``(kh, kw)`` array (needed with ``x``)
    padding_mode : the padding mode used for ``x``'s padded values and its output
    figsize, dpi : the figure's size; a small dpi keeps the embedded frames small
    interval : milliseconds between frames
    title : optional prefix of every frame's title

    Returns
    -------
    animation : ``matplotlib.animation.FuncAnimation`` with ``H_out * W_out`` frames, frame ``t``
        showing output ``(t // W_out, t % W_out)``; pass it to :func:`convgrad.plotting.animation_html`.
        Its figure is not registered with pyplot, so a notebook does not also show it as a still.

    Raises
    ------
    ValueError
        As :func:`draw_conv2d`; ``x`` without ``weight`` (or the reverse); shapes that do not match
        ``input_size`` / ``kernel_size``.
    """
    from matplotlib.figure import Figure

    from .functional import conv2d
    from .padding import pad

    (H, W), k, s, p, d = _spec(input_size, kernel_size, stride, padding, dilation)
    Ho, Wo = output_shape((H, W), k, s, p, d)
    values = output = None
    if (x is None) != (weight is None):
        raise ValueError("give both x and weight, or neither")
    if x is not None:
        x, weight = np.asarray(x, dtype=float), np.asarray(weight, dtype=float)
        if x.shape != (H, W) or weight.shape != k:
            raise ValueError(f"x must be {(H, W)} and weight {k}, got {x.shape} and {weight.shape}")
        values = pad(x, (p[1], p[1], p[0], p[0]), mode=padding_mode)
        output = np.round(conv2d(x[None], weight[None, None], stride=s, padding=p, dilation=d,
                                 padding_mode=padding_mode)[0], 2)
    fig = Figure(figsize=figsize, dpi=dpi)
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.9)

    def frame(t):
        ax.clear()
        i, j = divmod(t, Wo)
        heading = f"output ({i}, {j}) reads the dark cells"
        draw_conv2d(ax, (H, W), k, s, p, d, position=(i, j), values=values, output=output,
                    title=heading if title is None else f"{title}: {heading}")
        return ax.patches

    return FuncAnimation(fig, frame, frames=range(Ho * Wo), interval=interval, blit=False)
