"""convgrad.denoiser: chapter 13's network and its initialisation, S networks trained as one grouped network
(each group exactly its own network's SGD run), and the seed study's record (tools/plateau_study.py)."""

import numpy as np
import pytest

from convgrad import nn, optim
from convgrad.autograd import Tensor
from convgrad.data import images_2d, salt_and_pepper
from convgrad.denoiser import load_plateau_study, make_denoiser, make_grouped, train_grouped
from tools import plateau_study


def _images(n, seed=13):
    return images_2d(n, 32, np.random.default_rng(seed))[:, None]


def _train_single(net, epochs, images, noise_seed, fraction=0.1, lr=1e-3):
    """Chapter 13's per-image loop for one network: its per-epoch mean training loss."""
    opt, loss_fn, rng, curve = optim.SGD(net.parameters(), lr=lr), nn.MSELoss(), np.random.default_rng(noise_seed), []
    for _ in range(epochs):
        noisy = salt_and_pepper(images, fraction, rng, salt=1.0, pepper=0.0)
        total = 0.0
        for i in range(len(images)):
            opt.zero_grad()
            loss = loss_fn(net(Tensor(noisy[i:i + 1])), Tensor(images[i:i + 1]))
            loss.backward()
            opt.step()
            total += loss.item()
        curve.append(total / len(images))
    return np.array(curve)


def test_make_denoiser_layout_and_initialisation():
    net = make_denoiser(5)
    shapes = [tuple(p.shape) for p in net.parameters()]
    assert shapes == [(1, 1, 3, 3), (1,), (1, 1, 3, 3), (1,), (1, 1, 3, 3), (1,)]
    rng = np.random.default_rng(5)     # the kernels are the generator's first three draws, in layer order
    for k, p in zip((0, 2, 4), (net[0].weight, net[2].weight, net[4].weight)):
        np.testing.assert_array_equal(p.data, rng.normal(0.0, np.sqrt(2 / 18), (1, 1, 3, 3)))
    assert all(np.all(net[k].bias.data == 0) for k in (0, 2, 4))
    wide = make_denoiser(5, channels=4)
    assert [tuple(p.shape) for p in wide.parameters()][::2] == [(4, 1, 3, 3), (4, 4, 3, 3), (1, 4, 3, 3)]


def test_make_grouped_holds_each_network():
    seeds = [3, 11, 1013]
    grouped = make_grouped(seeds)
    assert grouped[0].groups == 3 and tuple(grouped[2].weight.shape) == (3, 1, 3, 3)
    for s, seed in enumerate(seeds):
        for g, one in zip(grouped.parameters(), make_denoiser(seed).parameters()):
            np.testing.assert_array_equal(g.data[s], one.data[0])
    with pytest.raises(ValueError, match="at least one seed"):
        make_grouped([])


def test_grouped_training_is_each_network_trained_alone():
    images, seeds = _images(40), [1000, 1004]
    curves, grouped = train_grouped(seeds, 2, images, noise_seed=16)
    assert curves.shape == (2, 2)
    for s, seed in enumerate(seeds):
        single = make_denoiser(seed)
        curve = _train_single(single, 2, images, noise_seed=16)
        np.testing.assert_allclose(curves[:, s], curve, rtol=0, atol=1e-13)
        for g, one in zip(grouped.parameters(), single.parameters()):
            np.testing.assert_allclose(g.data[s], one.data[0], rtol=0, atol=1e-12)
    # and a group is not just a copy of the first network
    assert not np.allclose(curves[:, 0], curves[:, 1])


def test_train_grouped_refuses_bad_input():
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        train_grouped([1], 1, np.zeros((4, 32, 32)), noise_seed=0)
    with pytest.raises(ValueError, match="epochs"):
        train_grouped([1], -1, _images(2), noise_seed=0)
    assert train_grouped([1, 2], 0, _images(2), noise_seed=0)[0].shape == (0, 2)


def test_plateau_study_record_matches_its_script():
    record = load_plateau_study()
    assert record["settings"] == plateau_study.settings()
    seeds, epochs = record["settings"]["seeds"], record["settings"]["epochs"]
    assert record["train_loss"].shape == (epochs, len(seeds))
    # its first epoch, computed again for the first group
    group = seeds[:record["settings"]["group"]]
    images = images_2d(1000, 32, np.random.default_rng(plateau_study.IMAGES_SEED))[:, None]
    first, _ = train_grouped(group, 1, images, noise_seed=plateau_study.NOISE_SEED,
                             fraction=plateau_study.FRACTION, lr=plateau_study.LR)
    np.testing.assert_allclose(record["train_loss"][:1, :len(group)], first, rtol=0, atol=plateau_study.TOLERANCE)


@pytest.mark.parametrize("shift, status", [(0.0, 0), (1e-5, 1)])
def test_the_studys_check_fails_when_the_computation_differs_from_the_record(monkeypatch, capsys, shift, status):
    # --check (run by CI) compares a new computation with the record: here the "computation" is the record
    # itself, shifted by more than the tolerance or not at all.
    record = load_plateau_study()
    state = {name: value + shift for name, value in record["final_state"].items()}
    monkeypatch.setattr(plateau_study, "compute", lambda jobs: (record["train_loss"], state))
    assert plateau_study.main(["--check"]) == status
    assert "largest difference" in capsys.readouterr().out
