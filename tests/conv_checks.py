"""Helpers the convolution tests share: a tolerance check and a PyTorch parity run."""

import numpy as np

from convgrad.conv import conv1d, conv1d_backward, conv2d, conv2d_backward

FORWARD = {1: conv1d, 2: conv2d}
BACKWARD = {1: conv1d_backward, 2: conv2d_backward}


def close(a, b, dtype=np.float64):
    """Same shape and equal to rounding: 1e-10 relative for float64, 2e-4 for float32."""
    tol = 1e-10 if dtype == np.float64 else 2e-4
    scale = max(1.0, float(np.abs(b).max()) if b.size else 1.0)
    return a.shape == b.shape and np.allclose(a, b, rtol=tol, atol=tol * scale)


def assert_matches_pytorch(torch, nd, x, weight, bias, kw, seed, dtype):
    """convgrad's forward pass and gradients equal those of torch.nn.Conv1d/Conv2d with the same weights.

    ``kw`` holds conv*d's keyword arguments (stride, padding, dilation, padding_mode and maybe groups).
    """
    groups = kw.get("groups", 1)
    module = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d}[nd](
        weight.shape[1] * groups, weight.shape[0], weight.shape[2:], stride=kw["stride"], padding=kw["padding"],
        dilation=kw["dilation"], groups=groups, padding_mode=kw["padding_mode"], bias=bias is not None,
        dtype=torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(weight))
        if bias is not None:
            module.bias.copy_(torch.from_numpy(bias))
    x_t = torch.from_numpy(x).requires_grad_(True)
    out_t = module(x_t)
    grad_out = np.random.default_rng(seed).standard_normal(tuple(out_t.shape)).astype(dtype)
    out_t.backward(torch.from_numpy(grad_out))

    out = FORWARD[nd](x, weight, bias, **kw)
    grad_x, grad_weight, grad_bias = BACKWARD[nd](grad_out, x, weight, **kw)
    assert close(out, out_t.detach().numpy(), dtype)
    assert close(grad_x, x_t.grad.numpy(), dtype)
    assert close(grad_weight, module.weight.grad.numpy(), dtype)
    if bias is not None:
        assert close(grad_bias, module.bias.grad.numpy(), dtype)
