"""The input gradient of conv2d is the transposed convolution (chapter 8).

Three independent routes to the same array: the transpose of the matrix of
conv2d (convgrad.toeplitz), convgrad's derived backward pass, and PyTorch's
own ``conv_transpose2d`` (skipped when PyTorch is absent). ``output_padding``
is PyTorch's way of restoring the rows and columns that a stride left unread,
which a transposed convolution cannot infer from the output's size alone.
"""

import numpy as np
import pytest

from convgrad.diagrams import output_shape
from convgrad.functional import conv2d, conv2d_backward
from convgrad.toeplitz import conv2d_correlation_matrix

CASES = [  # (H, W), (kh, kw), stride, padding, dilation
    ((5, 5), (3, 3), 1, 0, 1),
    ((6, 5), (3, 2), 2, 0, 1),     # stride 2 leaves the last row unread
    ((7, 8), (3, 3), 2, 1, 1),
    ((7, 6), (2, 3), (3, 2), (1, 0), 1),
    ((8, 7), (3, 2), 1, 1, 2),
    ((9, 9), (3, 3), 2, 2, (2, 1)),
]


def unread_tail(size, k, s, p, d):
    """Rows past the last window: what output_padding must restore."""
    n_out = (size + 2 * p - d * (k - 1) - 1) // s + 1
    return size + 2 * p - (s * (n_out - 1) + d * (k - 1) + 1)


def as_pair(v):
    return (v, v) if isinstance(v, int) else v


@pytest.mark.parametrize("size, k, stride, padding, dilation", CASES)
def test_matrix_transpose_is_the_input_gradient(size, k, stride, padding, dilation):
    rng = np.random.default_rng(sum(size) + sum(k))
    x, w = rng.standard_normal((1, 1, *size)), rng.standard_normal((1, 1, *k))
    y = conv2d(x, w, stride=stride, padding=padding, dilation=dilation)
    assert y.shape[2:] == output_shape(size, k, stride, padding, dilation)
    g = rng.standard_normal(y.shape)
    grad_x, _, _ = conv2d_backward(g, x, w, stride=stride, padding=padding, dilation=dilation)
    C = conv2d_correlation_matrix(w[0, 0], size, stride=stride, padding=padding, dilation=dilation)
    np.testing.assert_allclose(C.T @ g.ravel(), grad_x.ravel(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("size, k, stride, padding, dilation", CASES)
def test_pytorch_conv_transpose2d_is_the_input_gradient(size, k, stride, padding, dilation):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(sum(size) * sum(k))
    x, w = rng.standard_normal((1, 1, *size)), rng.standard_normal((1, 1, *k))
    y = conv2d(x, w, stride=stride, padding=padding, dilation=dilation)
    g = rng.standard_normal(y.shape)
    C = conv2d_correlation_matrix(w[0, 0], size, stride=stride, padding=padding, dilation=dilation)
    s, p, d = as_pair(stride), as_pair(padding), as_pair(dilation)
    extra = tuple(unread_tail(size[a], k[a], s[a], p[a], d[a]) for a in range(2))
    assert all(0 <= e < max(s_a, d_a) for e, s_a, d_a in zip(extra, s, d))   # PyTorch's limit on output_padding
    t = torch.nn.functional.conv_transpose2d(torch.from_numpy(g), torch.from_numpy(w), stride=s, padding=p,
                                             dilation=d, output_padding=extra).numpy()
    assert t.shape == x.shape
    np.testing.assert_allclose(t.ravel(), C.T @ g.ravel(), rtol=1e-10, atol=1e-12)
    # and PyTorch's own autograd agrees
    x_t = torch.from_numpy(x).requires_grad_(True)
    torch.nn.functional.conv2d(x_t, torch.from_numpy(w), stride=s, padding=p, dilation=d).backward(torch.from_numpy(g))
    np.testing.assert_allclose(x_t.grad.numpy(), t, rtol=1e-10, atol=1e-12)
