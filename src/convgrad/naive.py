"""Plain-loop reference implementations, written to be read, not to be fast.

Every function here is the defining formula typed out as nested Python
loops, one multiply-add per iteration, with no vectorisation and no clever
re-indexing. They are the independent reference that the tests compare the
fast implementations in :mod:`convgrad.conv`, :mod:`convgrad.correlation`,
:mod:`convgrad.weight_gradient` and :mod:`convgrad.unfold` against, the
"plain loops" row of ``benchmarks/bench_conv.py``, and the starting point
of the chapter that compares algorithms.

Padding is never materialised: an index that falls outside the input is
mapped back onto the input entry that the padding mode copies
(:func:`source_index`), or contributes zero. The backward passes are written
in the "scatter" form of the chain rule (every term of the forward sum sends
its share of the gradient back to the two factors it multiplied), which is a
different derivation from the correlation/full-convolution form used by
:mod:`convgrad.conv`; that is the point of a reference.

Arguments, shapes and results are those of the fast functions (same names);
only light checking is done here.
"""

import numpy as np

from ._args import _as_real_array, _common_float, _conv_padding, _ntuple, _output_size

__all__ = ["source_index", "pad", "pad_backward", "conv1d", "conv2d", "conv1d_backward", "conv2d_backward",
           "input_channel", "im2col", "col2im"]


def source_index(p, size, left, mode):
    """The input index that position ``p`` of an axis padded by ``left`` copies, or None for a zero.

    p: index into the padded axis (0-based); size: the unpadded length.
    """
    k = p - left
    if 0 <= k < size:
        return k
    if mode == "zeros":
        return None
    if mode == "replicate":
        return 0 if k < 0 else size - 1
    if mode == "circular":
        return k % size
    if mode == "reflect":
        return -k if k < 0 else 2 * (size - 1) - k
    raise ValueError(f"source_index: unknown padding mode {mode!r}")


def pad(x, pad, mode="zeros"):
    """Loop version of :func:`convgrad.padding.pad` for the last one or two dimensions.

    x: (..., W) or (..., H, W); pad: (left, right) or (left, right, top, bottom).
    """
    x = np.asarray(x)
    if mode == "constant":
        mode = "zeros"
    if len(pad) == 2:
        return _pad_last_two(x[..., None, :], (0, 0), tuple(pad), mode)[..., 0, :]
    return _pad_last_two(x, (pad[2], pad[3]), (pad[0], pad[1]), mode)


def _pad_last_two(x, rows, cols, mode):
    """Pad the last two axes of x by rows=(top, bottom) and cols=(left, right)."""
    h, w = x.shape[-2:]
    out = np.zeros(x.shape[:-2] + (h + rows[0] + rows[1], w + cols[0] + cols[1]), dtype=x.dtype)
    for p in range(out.shape[-2]):
        for q in range(out.shape[-1]):
            src_p, src_q = source_index(p, h, rows[0], mode), source_index(q, w, cols[0], mode)
            if src_p is not None and src_q is not None:
                out[..., p, q] = x[..., src_p, src_q]
    return out


def pad_backward(grad_out, pad, mode="zeros"):
    """Loop version of :func:`convgrad.padding.pad_backward`: grad_x[src(p)] += grad_out[p] for every p."""
    grad_out = np.asarray(grad_out)
    if mode == "constant":
        mode = "zeros"
    if len(pad) == 2:
        return _pad_last_two_backward(grad_out[..., None, :], (0, 0), tuple(pad), mode)[..., 0, :]
    return _pad_last_two_backward(grad_out, (pad[2], pad[3]), (pad[0], pad[1]), mode)


def _pad_last_two_backward(grad_out, rows, cols, mode):
    h, w = grad_out.shape[-2] - rows[0] - rows[1], grad_out.shape[-1] - cols[0] - cols[1]
    grad_x = np.zeros(grad_out.shape[:-2] + (h, w), dtype=grad_out.dtype)
    for p in range(grad_out.shape[-2]):
        for q in range(grad_out.shape[-1]):
            src_p, src_q = source_index(p, h, rows[0], mode), source_index(q, w, cols[0], mode)
            if src_p is not None and src_q is not None:
                grad_x[..., src_p, src_q] += grad_out[..., p, q]
    return grad_x


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, padding_mode="zeros", groups=1):
    """out[n, o, i] = bias[o] + sum_{c', a} weight[o, c', a] * x_pad[n, c, s*i + d*a], by loops.

    x: (N, C_in, L) or (C_in, L); weight: (C_out, C_in/groups, k); bias: (C_out,) or None;
    c = group(o) * C_in/groups + c' (:func:`input_channel`).
    """
    x, weight, bias, unbatched = _arrays(x, weight, bias, nd=1, groups=groups)
    (s,), (d,) = _ntuple(stride, 1, "stride", "naive"), _ntuple(dilation, 1, "dilation", "naive")
    ((left, right),) = _conv_padding(padding, weight.shape[2:], (s,), (d,), "naive")
    n_batch, _, length = x.shape
    c_out, c_in, k = weight.shape
    l_out = _output_size(length, k, s, d, left, right)
    out = np.zeros((n_batch, c_out, l_out), dtype=x.dtype)
    for n in range(n_batch):
        for o in range(c_out):
            for i in range(l_out):
                total = bias[o] if bias is not None else 0.0
                for c in range(c_in):
                    for a in range(k):
                        src = source_index(s * i + d * a, length, left, padding_mode)
                        if src is not None:
                            total += weight[o, c, a] * x[n, input_channel(o, c, c_in, c_out, groups), src]
                out[n, o, i] = total
    return out[0] if unbatched else out


def conv1d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, padding_mode="zeros", groups=1):
    """(grad_x, grad_weight, grad_bias) of :func:`conv1d`, by loops over every term of the forward sum."""
    x, weight, _, unbatched = _arrays(x, weight, None, nd=1, groups=groups)
    grad_out = np.asarray(grad_out, dtype=x.dtype)
    if unbatched:
        grad_out = grad_out[None]
    (s,), (d,) = _ntuple(stride, 1, "stride", "naive"), _ntuple(dilation, 1, "dilation", "naive")
    ((left, right),) = _conv_padding(padding, weight.shape[2:], (s,), (d,), "naive")
    n_batch, _, length = x.shape
    c_out, c_in, k = weight.shape
    grad_x, grad_weight = np.zeros_like(x), np.zeros_like(weight)
    grad_bias = np.zeros(c_out, dtype=x.dtype)
    for n in range(n_batch):
        for o in range(c_out):
            for i in range(grad_out.shape[2]):
                g = grad_out[n, o, i]
                grad_bias[o] += g
                for c in range(c_in):
                    for a in range(k):
                        # the term weight[o, c, a] * x[n, ci, src] of out[n, o, i]
                        src = source_index(s * i + d * a, length, left, padding_mode)
                        ci = input_channel(o, c, c_in, c_out, groups)
                        if src is not None:
                            grad_weight[o, c, a] += g * x[n, ci, src]
                            grad_x[n, ci, src] += g * weight[o, c, a]
    return (grad_x[0] if unbatched else grad_x), grad_weight, grad_bias


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, padding_mode="zeros", groups=1):
    """out[n, o, i, j] = bias[o] + sum_{c', a, b} weight[o, c', a, b] * x_pad[n, c, s*i + d*a, s*j + d*b], by loops.

    x: (N, C_in, H, W) or (C_in, H, W); weight: (C_out, C_in/groups, kh, kw); bias: (C_out,) or None;
    c = group(o) * C_in/groups + c' (:func:`input_channel`).
    """
    x, weight, bias, unbatched = _arrays(x, weight, bias, nd=2, groups=groups)
    (sh, sw), (dh, dw), pads = _args2d(weight, stride, padding, dilation)
    n_batch, _, h, w = x.shape
    c_out, c_in, kh, kw = weight.shape
    h_out = _output_size(h, kh, sh, dh, *pads[0])
    w_out = _output_size(w, kw, sw, dw, *pads[1])
    out = np.zeros((n_batch, c_out, h_out, w_out), dtype=x.dtype)
    for n in range(n_batch):
        for o in range(c_out):
            for i in range(h_out):
                for j in range(w_out):
                    total = bias[o] if bias is not None else 0.0
                    for c in range(c_in):
                        for a in range(kh):
                            for b in range(kw):
                                src_h = source_index(sh * i + dh * a, h, pads[0][0], padding_mode)
                                src_w = source_index(sw * j + dw * b, w, pads[1][0], padding_mode)
                                if src_h is not None and src_w is not None:
                                    ci = input_channel(o, c, c_in, c_out, groups)
                                    total += weight[o, c, a, b] * x[n, ci, src_h, src_w]
                    out[n, o, i, j] = total
    return out[0] if unbatched else out


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, padding_mode="zeros", groups=1):
    """(grad_x, grad_weight, grad_bias) of :func:`conv2d`, by loops over every term of the forward sum."""
    x, weight, _, unbatched = _arrays(x, weight, None, nd=2, groups=groups)
    grad_out = np.asarray(grad_out, dtype=x.dtype)
    if unbatched:
        grad_out = grad_out[None]
    (sh, sw), (dh, dw), pads = _args2d(weight, stride, padding, dilation)
    n_batch, _, h, w = x.shape
    c_out, c_in, kh, kw = weight.shape
    grad_x, grad_weight = np.zeros_like(x), np.zeros_like(weight)
    grad_bias = np.zeros(c_out, dtype=x.dtype)
    for n in range(n_batch):
        for o in range(c_out):
            for i in range(grad_out.shape[2]):
                for j in range(grad_out.shape[3]):
                    g = grad_out[n, o, i, j]
                    grad_bias[o] += g
                    for c in range(c_in):
                        for a in range(kh):
                            for b in range(kw):
                                src_h = source_index(sh * i + dh * a, h, pads[0][0], padding_mode)
                                src_w = source_index(sw * j + dw * b, w, pads[1][0], padding_mode)
                                if src_h is not None and src_w is not None:
                                    ci = input_channel(o, c, c_in, c_out, groups)
                                    grad_weight[o, c, a, b] += g * x[n, ci, src_h, src_w]
                                    grad_x[n, ci, src_h, src_w] += g * weight[o, c, a, b]
    return (grad_x[0] if unbatched else grad_x), grad_weight, grad_bias


def input_channel(o, c, c_in_per_group, c_out, groups):
    """The channel of x that weight[o, c] multiplies: channel c of output channel o's group.

    With ``groups`` groups, output channels ``g*C_out/groups .. (g+1)*C_out/groups - 1`` form group g,
    which sees input channels ``g*C_in/groups ..``; ``c_in_per_group = weight.shape[1] = C_in/groups``.
    """
    return (o // (c_out // groups)) * c_in_per_group + c


def im2col(x, kernel_size, dilation=1, padding=0, stride=1):
    """cols[n, (c*kh + a)*kw + b, i*W_out + j] = x_pad[n, c, s*i + d*a, s*j + d*b] (zero padding), by loops.

    x: (N, C, H, W) or (C, H, W) -> (N, C*kh*kw, L) or (C*kh*kw, L).
    """
    x = np.asarray(x)
    unbatched = x.ndim == 3
    if unbatched:
        x = x[None]
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = _unfold_args(kernel_size, dilation, padding, stride)
    n_batch, c_in, h, w = x.shape
    h_out, w_out = _output_size(h, kh, sh, dh, ph, ph), _output_size(w, kw, sw, dw, pw, pw)
    cols = np.zeros((n_batch, c_in * kh * kw, h_out * w_out), dtype=x.dtype)
    for n in range(n_batch):
        for c in range(c_in):
            for a in range(kh):
                for b in range(kw):
                    for i in range(h_out):
                        for j in range(w_out):
                            src_h = source_index(sh * i + dh * a, h, ph, "zeros")
                            src_w = source_index(sw * j + dw * b, w, pw, "zeros")
                            if src_h is not None and src_w is not None:
                                cols[n, (c * kh + a) * kw + b, i * w_out + j] = x[n, c, src_h, src_w]
    return cols[0] if unbatched else cols


def col2im(cols, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """x[n, c, s*i + d*a - p, s*j + d*b - p] += cols[n, (c*kh + a)*kw + b, i*W_out + j], by loops."""
    cols = np.asarray(cols)
    unbatched = cols.ndim == 2
    if unbatched:
        cols = cols[None]
    h, w = _ntuple(output_size, 2, "output_size", "naive")
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = _unfold_args(kernel_size, dilation, padding, stride)
    h_out, w_out = _output_size(h, kh, sh, dh, ph, ph), _output_size(w, kw, sw, dw, pw, pw)
    n_batch, c_in = cols.shape[0], cols.shape[1] // (kh * kw)
    x = np.zeros((n_batch, c_in, h, w), dtype=cols.dtype)
    for n in range(n_batch):
        for c in range(c_in):
            for a in range(kh):
                for b in range(kw):
                    for i in range(h_out):
                        for j in range(w_out):
                            src_h = source_index(sh * i + dh * a, h, ph, "zeros")
                            src_w = source_index(sw * j + dw * b, w, pw, "zeros")
                            if src_h is not None and src_w is not None:
                                x[n, c, src_h, src_w] += cols[n, (c * kh + a) * kw + b, i * w_out + j]
    return x[0] if unbatched else x


def _arrays(x, weight, bias, nd, groups):
    arrays = {"x": _as_real_array(x, "x", "naive"), "weight": _as_real_array(weight, "weight", "naive"),
              "bias": None if bias is None else _as_real_array(bias, "bias", "naive")}
    arrays = _common_float(arrays, "naive")
    x, weight = arrays["x"], arrays["weight"]
    unbatched = x.ndim == nd + 1
    x = x[None] if unbatched else x
    if groups < 1 or weight.shape[0] % groups or x.shape[1] != weight.shape[1] * groups:
        raise ValueError(f"naive: groups={groups} must divide C_out={weight.shape[0]}, and C_in={x.shape[1]} "
                         f"must be weight.shape[1] * groups")
    return x, weight, arrays["bias"], unbatched


def _args2d(weight, stride, padding, dilation):
    stride, dilation = _ntuple(stride, 2, "stride", "naive"), _ntuple(dilation, 2, "dilation", "naive")
    return stride, dilation, _conv_padding(padding, weight.shape[2:], stride, dilation, "naive")


def _unfold_args(kernel_size, dilation, padding, stride):
    return tuple(_ntuple(v, 2, name, "naive") for v, name in
                 ((kernel_size, "kernel_size"), (dilation, "dilation"), (padding, "padding"), (stride, "stride")))
