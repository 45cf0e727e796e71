"""Statements chapters 7, 8 and 13 make about PyTorch, checked against PyTorch itself.

Each test names the chapter whose text it backs; the chapter's cell or paragraph names the test.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional


def test_conv2d_offers_four_padding_modes_like_numpy_pad():
    """Ch 7: Conv2d's padding_mode is 'zeros', 'reflect', 'replicate' or 'circular' (np.pad's 'constant', 'reflect',
    'edge', 'wrap'), in both directions of the image."""
    image = np.arange(1.0, 13.0).reshape(3, 4)
    numpy_name = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}
    for mode, np_mode in numpy_name.items():
        conv = torch.nn.Conv2d(1, 1, 1, padding=(2, 1), padding_mode=mode, bias=False).double()
        with torch.no_grad():
            conv.weight.fill_(1.0)
            out = conv(torch.from_numpy(image)[None, None])[0, 0].numpy()
        assert np.array_equal(out, np.pad(image, ((2, 2), (1, 1)), mode=np_mode)), mode


@pytest.mark.parametrize("size", [5, 6])
def test_conv_transpose2d_with_output_padding_picks_the_input_size(size):
    """Ch 8: with kernel 3 and stride 2, inputs of 5 and of 6 rows give a 2 x 2 output; conv_transpose2d of the
    upstream gradient is the input gradient of the 5 x 5 image, and with output_padding=1 that of the 6 x 6 one."""
    rng = np.random.default_rng(size)
    x = torch.tensor(rng.standard_normal((1, 1, size, size)), requires_grad=True)
    w = torch.tensor(rng.standard_normal((1, 1, 3, 3)))
    out = F.conv2d(x, w, stride=2)
    assert out.shape[-2:] == (2, 2)
    g = torch.tensor(rng.standard_normal(out.shape))
    out.backward(g)
    transposed = F.conv_transpose2d(g, w, stride=2, output_padding=size - 5)
    assert transposed.shape == x.shape
    assert torch.allclose(transposed, x.grad, rtol=0, atol=1e-12)


def test_xavier_normal_std_for_the_denoisers_kernels():
    """Ch 13: torch.nn.init.xavier_normal_ draws N(0, 2 / (fan_in + fan_out)) with fan_in = C_in kh kw and
    fan_out = C_out kh kw: for a (1, 1, 3, 3) kernel, standard deviation sqrt(2 / 18) = 1/3."""
    torch.manual_seed(0)
    draws = torch.cat([torch.nn.init.xavier_normal_(torch.empty(1, 1, 3, 3, dtype=torch.float64)).ravel()
                       for _ in range(4000)])
    assert abs(draws.std().item() - 1 / 3) < 0.01 and abs(draws.mean().item()) < 0.01
    # the fans of a wider weight: (1024, 4, 3, 3) has fan_in 4 * 9 = 36 and fan_out 1024 * 9
    wide = torch.nn.init.xavier_normal_(torch.empty(16 * 64, 4, 3, 3, dtype=torch.float64))
    assert abs(wide.std().item() - np.sqrt(2 / (4 * 9 + 16 * 64 * 9))) < 0.001
