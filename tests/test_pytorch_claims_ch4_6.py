"""Chapters 4-6's statements about PyTorch, tested against PyTorch itself (skipped when it is absent).

The chapters run convgrad and NumPy only; wherever one of them says what
PyTorch does, the cell names the test here that checks it (by its pytest id,
``tests/test_pytorch_claims_ch4_6.py::test_...``). Each test compares PyTorch
with a reference built independently of it: the chapters' formulas written
out with NumPy loops (the Toeplitz matrix from its entry formula, the
Kronecker route, the correlation sums), or, where a chapter says that
convgrad agrees with PyTorch, convgrad itself. CI installs PyTorch
(requirements-torch.txt), so these tests run there.
"""

import numpy as np
import pytest

from convgrad.functional import conv1d_backward

torch = pytest.importorskip("torch")
nn = torch.nn
tF = torch.nn.functional


def t(a, grad=False):
    return torch.tensor(np.array(a, dtype=np.float64), requires_grad=grad)   # a copy: never negative strides


def n(tensor):
    return tensor.detach().numpy()


def toeplitz_from_formula(w, n_):
    """T(w) of chapter 4, from its entry formula: T[i, k] = w[i - k + P] when 0 <= i - k + P < m (0-indexed)."""
    m = len(w)
    P = (m - 1) // 2
    T = np.zeros((n_, n_))
    for i in range(n_):
        for k in range(n_):
            if 0 <= i - k + P < m:
                T[i, k] = w[i - k + P]
    return T


def basis_and_embedding(n_, m):
    """B (n^2 x (2n - 1), column d + n - 1 is vec(E_d), vec stacking columns) and S ((2n - 1) x m, w_b on
    diagonal d = b - P), written out from chapter 4's definitions with loops, for m <= 2n - 1."""
    P = (m - 1) // 2
    B = np.zeros((n_ * n_, 2 * n_ - 1))
    for i in range(n_):
        for k in range(n_):
            B[i + k * n_, (i - k) + n_ - 1] = 1.0
    S = np.zeros((2 * n_ - 1, m))
    for b in range(m):
        S[(b - P) + n_ - 1, b] = 1.0
    return B, S


def correlate_valid(a, v):
    """c[q] = sum_i v[i] a[q + i] for q = 0 .. len(a) - len(v), by a loop."""
    return np.array([sum(v[i] * a[q + i] for i in range(len(v))) for q in range(len(a) - len(v) + 1)])


# --- chapter 4 ------------------------------------------------------------------------------------------------

def test_ch4_conv1d_is_the_convolution_matrix_of_the_flipped_kernel():
    """Ch 4: PyTorch's conv1d computes a cross-correlation, so with padding P = (m - 1)/2 (or "same") and the
    flipped kernel w[::-1] it is the same-padded true convolution y = T(w) z, T from its entry formula;
    with w itself it is T(w)^T z (exercise 1: the cross-correlation's matrix is T(w)^T)."""
    rng = np.random.default_rng(40)
    for n_, m in [(4, 3), (5, 3), (6, 5), (12, 5), (3, 5)]:
        P = (m - 1) // 2
        z, w = rng.standard_normal(n_), rng.standard_normal(m)
        T = toeplitz_from_formula(w, n_)
        for padding in (P, "same"):
            y = n(tF.conv1d(t(z)[None, None], t(w[::-1].copy())[None, None], padding=padding))[0, 0]
            assert np.allclose(y, T @ z)
            y_corr = n(tF.conv1d(t(z)[None, None], t(w)[None, None], padding=padding))[0, 0]
            assert np.allclose(y_corr, T.T @ z)
        if m > 1 and not np.allclose(w, w[::-1]):
            assert not np.allclose(T, T.T)


def test_ch4_same_padding_accepts_kernels_longer_than_the_signal():
    """Ch 4: nn.Conv1d and conv1d with padding="same" accept m = 7 on n = 3 samples (and m = 9, 11), return n
    outputs, equal to T(w) z; only the middle 2n - 1 taps reach the output, and the outer taps get a zero
    gradient while the middle ones do not."""
    rng = np.random.default_rng(41)
    n_ = 3
    for m in (5, 7, 9, 11):
        z, w = rng.standard_normal(n_), rng.standard_normal(m)
        layer = nn.Conv1d(1, 1, m, padding="same", bias=False, dtype=torch.float64)
        with torch.no_grad():
            layer.weight.copy_(t(w[::-1].copy())[None, None])
        y = layer(t(z)[None, None])
        assert tuple(y.shape) == (1, 1, n_)
        assert np.allclose(n(y)[0, 0], toeplitz_from_formula(w, n_) @ z)
        y.sum().backward()
        grad_w = n(layer.weight.grad)[0, 0][::-1]          # back to the source's orientation, w_1 .. w_m
        P = (m - 1) // 2
        middle = np.arange(m)[np.abs(np.arange(m) - P) <= n_ - 1]
        outer = np.setdiff1d(np.arange(m), middle)
        assert len(middle) == min(m, 2 * n_ - 1)
        assert np.all(grad_w[outer] == 0) and np.all(grad_w[middle] != 0)


def test_ch4_conv1d_shapes_are_n_cin_l_and_cout_cin_m():
    """Ch 4: conv1d expects input (N, C_in, L) and weight (C_out, C_in, m) and returns (N, C_out, L_out); a
    weight whose C_in does not match the input is refused."""
    x = torch.zeros(2, 3, 10, dtype=torch.float64)
    assert tuple(tF.conv1d(x, torch.zeros(4, 3, 5, dtype=torch.float64), padding=2).shape) == (2, 4, 10)
    assert tuple(tF.conv1d(x, torch.zeros(4, 3, 5, dtype=torch.float64)).shape) == (2, 4, 6)
    with pytest.raises(RuntimeError):
        tF.conv1d(x, torch.zeros(4, 2, 5, dtype=torch.float64))


def test_ch4_kernel_and_input_gradients_match_the_matrix_formulas():
    """Ch 4: for L = (g - y)^T (g - y) with y the same-padded convolution (conv1d with the flipped kernel),
    PyTorch's autograd gives dL/dw = -2 (g - y)^T (z^T kron I_n) B S (the Kronecker route, B and S written
    out from their definitions) and dL/dz = -2 (g - y)^T T(w) (exercise 3)."""
    rng = np.random.default_rng(42)
    for n_, m in [(6, 3), (10, 5), (12, 5), (7, 7)]:
        P = (m - 1) // 2
        z, w, g = rng.standard_normal(n_), rng.standard_normal(m), rng.standard_normal(n_)
        z_t, w_t = t(z, grad=True), t(w, grad=True)
        y = tF.conv1d(z_t[None, None], torch.flip(w_t, dims=(0,))[None, None], padding=P)[0, 0]
        loss = ((t(g) - y) ** 2).sum()
        loss.backward()
        B, S = basis_and_embedding(n_, m)
        K = np.kron(z.reshape(1, n_), np.eye(n_))
        y_kron = K @ B @ S @ w
        assert np.allclose(n(y), y_kron)
        assert np.allclose(n(w_t.grad), -2 * (g - y_kron) @ K @ B @ S)
        assert np.allclose(n(z_t.grad), -2 * (g - y_kron) @ toeplitz_from_formula(w, n_))


def test_ch4_source_004_one_dimensional_output_is_a_row():
    """Ch 4 (erratum of source 004): in PyTorch's (N, C, H, W) layout a 1 x 4 input and a 1 x 3 kernel give a
    (1, 1, 1, 2) output, a row; conv1d on (N, C, L) gives (1, 1, 2); the entries are the source's sums
    w1 x1 + w2 x2 + w3 x3 + b and w1 x2 + w2 x3 + w3 x4 + b; a column output needs a 4 x 1 input and a 3 x 1 kernel."""
    rng = np.random.default_rng(43)
    x, k, b = rng.standard_normal(4), rng.standard_normal(3), rng.standard_normal(1)
    expected = [k[0] * x[0] + k[1] * x[1] + k[2] * x[2] + b[0], k[0] * x[1] + k[1] * x[2] + k[2] * x[3] + b[0]]
    row = tF.conv2d(t(x).reshape(1, 1, 1, 4), t(k).reshape(1, 1, 1, 3), t(b))
    one_d = tF.conv1d(t(x).reshape(1, 1, 4), t(k).reshape(1, 1, 3), t(b))
    column = tF.conv2d(t(x).reshape(1, 1, 4, 1), t(k).reshape(1, 1, 3, 1), t(b))
    assert tuple(row.shape) == (1, 1, 1, 2) and tuple(one_d.shape) == (1, 1, 2) and tuple(column.shape) == (1, 1, 2, 1)
    for out in (row, one_d, column):
        assert np.allclose(n(out).reshape(2), expected)


# --- chapter 5 ------------------------------------------------------------------------------------------------

def test_ch5_kernel_gradient_of_a_true_convolution_is_a_reversed_correlation():
    """Ch 5: with the source's true convolution run as PyTorch's conv1d of the flipped kernel, autograd's
    dL/dw_j is sum_i -2 (g_i - y_i) z(i - j + P + 1), the valid correlation of the padded input with the
    upstream gradient read backwards; read forwards it is the gradient of conv1d's own weight w[::-1]."""
    rng = np.random.default_rng(50)
    for n_, m in [(6, 5), (9, 3), (20, 7), (100, 11)]:
        P = (m - 1) // 2
        z, w, g = rng.standard_normal(n_), rng.standard_normal(m), rng.standard_normal(n_)
        w_t = t(w, grad=True)
        v_t = torch.flip(w_t, dims=(0,))
        v_t.retain_grad()
        y = tF.conv1d(t(z)[None, None], v_t[None, None], padding=P)[0, 0]
        ((t(g) - y) ** 2).sum().backward()
        r = -2 * (g - n(y))
        z_pad = np.concatenate([np.zeros(P), z, np.zeros(P)])
        c = correlate_valid(z_pad, r)
        source_sum = [sum(r[i] * z[i - j + P] for i in range(n_) if 0 <= i - j + P < n_) for j in range(m)]
        assert np.allclose(n(w_t.grad), c[::-1]) and np.allclose(n(w_t.grad), source_sum)
        assert np.allclose(n(v_t.grad), c)


def _torch_grads(grad_out, x, weight, bias, **options):
    x_t, w_t, b_t = t(x, grad=True), t(weight, grad=True), t(bias, grad=True)
    y = tF.conv1d(x_t, w_t, b_t, **options)
    y.backward(t(grad_out))
    return n(x_t.grad), n(w_t.grad), n(b_t.grad)


def _circular_conv1d(x, weight, bias, padding):
    return tF.conv1d(tF.pad(x, (padding, padding), mode="circular"), weight, bias)


def test_ch5_conv1d_backward_equals_torch_autograd():
    """Ch 5: convgrad's conv1d_backward returns PyTorch's gradients (input, weight, bias): a batch of two with
    C_in = 2, C_out = 3 and zero padding; stride 2 and 3 on n = 11..14 (s dividing n + 2P - m or not);
    circular padding (PyTorch's padding_mode="circular", as an explicit circular pad)."""
    rng = np.random.default_rng(51)
    cases = [dict(shape=(2, 2, 9), C_out=3, m=3, padding=1, stride=1)]
    cases += [dict(shape=(1, 1, n_), C_out=1, m=3, padding=1, stride=s) for n_ in range(11, 15) for s in (2, 3)]
    cases += [dict(shape=(2, 3, 10), C_out=2, m=5, padding=2, stride=2)]
    for case in cases:
        N, C_in, L = case["shape"]
        x = rng.standard_normal((N, C_in, L))
        weight, bias = rng.standard_normal((case["C_out"], C_in, case["m"])), rng.standard_normal(case["C_out"])
        y = tF.conv1d(t(x), t(weight), t(bias), padding=case["padding"], stride=case["stride"])
        grad_out = rng.standard_normal(tuple(y.shape))
        ours = conv1d_backward(grad_out, x, weight, padding=case["padding"], stride=case["stride"])
        theirs = _torch_grads(grad_out, x, weight, bias, padding=case["padding"], stride=case["stride"])
        for a, b in zip(ours, theirs):
            assert a.shape == b.shape and np.allclose(a, b)

    x, weight, bias = rng.standard_normal((1, 1, 9)), rng.standard_normal((1, 1, 5)), rng.standard_normal(1)
    layer = nn.Conv1d(1, 1, 5, padding=2, padding_mode="circular", dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(t(weight))
        layer.bias.copy_(t(bias))
    x_t = t(x, grad=True)
    y = layer(x_t)
    assert torch.allclose(y, _circular_conv1d(t(x), t(weight), t(bias), 2))
    grad_out = rng.standard_normal(tuple(y.shape))
    y.backward(t(grad_out))
    ours = conv1d_backward(grad_out, x, weight, padding=2, padding_mode="circular")
    for a, b in zip(ours, (n(x_t.grad), n(layer.weight.grad), n(layer.bias.grad))):
        assert np.allclose(a, b)


def test_ch5_strided_kernel_gradient_is_the_first_m_entries_of_a_dilated_correlation():
    """Ch 5, exercise 2: with stride s PyTorch's weight gradient is the valid correlation of the padded input
    with the upstream gradient dilated by s - 1 zeros; that correlation has m + rho entries,
    rho = (n + 2P - m) mod s, and the gradient is its first m."""
    rng = np.random.default_rng(52)
    m, P = 3, 1
    rhos = set()
    for n_ in range(11, 15):
        for s in (2, 3):
            z, w = rng.standard_normal(n_), rng.standard_normal(m)
            w_t = t(w, grad=True)
            y = tF.conv1d(t(z)[None, None], w_t[None, None], padding=P, stride=s)[0, 0]
            r = rng.standard_normal(tuple(y.shape))
            y.backward(t(r))
            r_dilated = np.zeros(s * (len(r) - 1) + 1)
            r_dilated[::s] = r
            corr = correlate_valid(np.concatenate([np.zeros(P), z, np.zeros(P)]), r_dilated)
            rho = (n_ + 2 * P - m) % s
            rhos.add(rho)
            assert len(corr) == m + rho and np.allclose(n(w_t.grad), corr[:m])
    assert rhos == {0, 1, 2}


def test_ch5_one_bias_per_output_channel():
    """Ch 5 (erratum of source 004): nn.Conv1d(C_in, C_out, m) has C_out biases, not C_out * C_in, and the
    gradient of bias o is the upstream gradient of output channel o summed over the batch and positions."""
    rng = np.random.default_rng(53)
    for C_in, C_out in [(3, 2), (1, 4), (2, 16)]:
        layer = nn.Conv1d(C_in, C_out, 3, padding=1, dtype=torch.float64)
        assert tuple(layer.bias.shape) == (C_out,) and tuple(layer.weight.shape) == (C_out, C_in, 3)
        y = layer(t(rng.standard_normal((2, C_in, 7))))
        grad_out = rng.standard_normal(tuple(y.shape))
        y.backward(t(grad_out))
        assert np.allclose(n(layer.bias.grad), grad_out.sum(axis=(0, 2)))


def test_ch5_batched_kernel_gradient_is_the_sum_over_the_batch():
    """Ch 5, exercise 4: on a batch (N, 1, n) PyTorch's weight gradient is the sum of the N per-signal
    gradients; the mean loss's gradient is that sum divided by N."""
    rng = np.random.default_rng(54)
    N, n_, m = 5, 20, 5
    P = (m - 1) // 2
    z, g, v = rng.standard_normal((N, n_)), rng.standard_normal((N, n_)), rng.standard_normal(m)
    v_t = t(v, grad=True)
    y = tF.conv1d(t(z)[:, None], v_t[None, None], padding=P)[:, 0]
    (((t(g) - y) ** 2).sum() / N).backward()
    per_signal = []
    for s in range(N):
        r = -2 * (g[s] - n(y)[s])
        per_signal.append(correlate_valid(np.concatenate([np.zeros(P), z[s], np.zeros(P)]), r))
    assert np.allclose(n(v_t.grad), np.mean(per_signal, axis=0))


# --- chapter 6 ------------------------------------------------------------------------------------------------

def test_ch6_conv1d_layer_computes_the_true_convolution_of_its_flipped_weight():
    """Ch 6: a Conv1d(1, 1, 11, padding=5, bias=False) layer with weight v cross-correlates, y[i] =
    sum_b v[b] z[i + b - P]; so it computes the source's true convolution with w = flip(v),
    y[i] = sum_b w[b] z[i - b + P] (np.convolve(z, w, "same")), on a batch of curves laid out (N, 1, n)."""
    rng = np.random.default_rng(60)
    N, n_, m = 4, 100, 11
    P = (m - 1) // 2
    z, w = rng.standard_normal((N, n_)), rng.standard_normal(m)
    layer = nn.Conv1d(1, 1, m, padding=P, bias=False, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(t(w[::-1].copy())[None, None])
    y = n(layer(t(z)[:, None]))[:, 0]
    z_pad = np.pad(z, ((0, 0), (P, P)))
    true_conv = np.array([[sum(w[b] * z_pad[c, i - b + 2 * P] for b in range(m)) for i in range(n_)] for c in range(N)])
    corr_v = np.array([[sum(w[::-1][b] * z_pad[c, i + b] for b in range(m)) for i in range(n_)] for c in range(N)])
    assert np.allclose(y, true_conv) and np.allclose(y, corr_v)
    assert np.allclose(y, np.stack([np.convolve(z[c], w, mode="same") for c in range(N)]))
    unflipped = nn.Conv1d(1, 1, m, padding=P, bias=False, dtype=torch.float64)
    with torch.no_grad():
        unflipped.weight.copy_(t(w)[None, None])
    assert not np.allclose(n(unflipped(t(z)[:, None]))[:, 0], true_conv)


def test_ch6_xavier_uniform_fans_bound_and_variance():
    """Ch 6: for a weight of shape (1, 1, 11) PyTorch's fans are fan_in = C_in m = 11 and fan_out = C_out m = 11;
    xavier_uniform_ draws from U(-B, B), B = sqrt(6/22) ~ 0.5222, variance B^2/3 = 1/11; xavier_normal_ has
    standard deviation sqrt(2/22) ~ 0.3015, the bound's near miss."""
    from torch.nn.init import _calculate_fan_in_and_fan_out

    assert _calculate_fan_in_and_fan_out(torch.empty(1, 1, 11)) == (11, 11)
    assert _calculate_fan_in_and_fan_out(torch.empty(16, 2, 3)) == (6, 48)
    generator = torch.Generator().manual_seed(6)
    bound = np.sqrt(6 / 22)
    draws = np.concatenate([n(nn.init.xavier_uniform_(torch.empty(1, 1, 11, dtype=torch.float64),
                                                      generator=generator)).ravel() for _ in range(4000)])
    assert np.all(np.abs(draws) <= bound) and np.abs(draws).max() > 0.999 * bound
    assert abs(draws.var() / (bound ** 2 / 3) - 1) < 0.02 and abs(draws.var() * 11 - 1) < 0.02
    normal = np.concatenate([n(nn.init.xavier_normal_(torch.empty(1, 1, 11, dtype=torch.float64),
                                                      generator=generator)).ravel() for _ in range(4000)])
    assert abs(normal.std() / np.sqrt(2 / 22) - 1) < 0.02 and np.abs(normal).max() > bound


def test_ch6_kernel_gradient_is_a_conv1d_with_the_curves_as_channels():
    """Ch 6: for the loss L = sum over samples / N of squared errors, PyTorch's gradient with respect to the
    layer's weight v equals the source's formula sum_c sum_i delta[c, i] z[c, i + b - P] (delta = -2 (g - y)/N)
    and a single conv1d of the curves, as N channels of one input (1, N, n), with delta as one kernel
    (1, N, n) and padding P; flipped, it is the gradient of the source's w."""
    rng = np.random.default_rng(61)
    N, n_, m = 30, 100, 11
    P = (m - 1) // 2
    z, g, v = rng.standard_normal((N, n_)), rng.standard_normal((N, n_)), rng.standard_normal(m)
    v_t = t(v, grad=True)
    y = tF.conv1d(t(z)[:, None], v_t[None, None], padding=P)[:, 0]
    (((t(g) - y) ** 2).sum() / N).backward()
    delta = -2 * (g - n(y)) / N
    z_pad = np.pad(z, ((0, 0), (P, P)))
    formula = np.array([sum(delta[c, i] * z_pad[c, i + b] for c in range(N) for i in range(n_)) for b in range(m)])
    as_conv = n(tF.conv1d(t(z)[None], t(delta)[None], padding=P))[0, 0]
    assert as_conv.shape == (m,)
    assert np.allclose(n(v_t.grad), formula) and np.allclose(n(v_t.grad), as_conv)
    source_w = [sum(-2 * (g[c, i] - n(y)[c, i]) * z_pad[c, i - j + 2 * P] for c in range(N) for i in range(n_)) / N
                for j in range(m)]
    assert np.allclose(n(v_t.grad)[::-1], source_w)
