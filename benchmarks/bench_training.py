"""Chapter 13's training schedules through convgrad.nn + convgrad.optim against the same in PyTorch (CPU).

    python benchmarks/bench_training.py                 # 5 faithful epochs each, then the Adam race
    python benchmarks/bench_training.py --epochs 20
    python benchmarks/bench_training.py --skip-adam     # only (a)

(a) The faithful schedule of source 001's reference program (sources/README, 2-D): 1000 synthetic
    32x32 images (convgrad.data.images_2d), 10 % salt-and-pepper redrawn every epoch, conv 3x3 ->
    ReLU -> conv 3x3 -> ReLU -> conv 3x3 (one channel, padding 1, scalar biases), per-pixel MSE,
    plain SGD with one image per step, lr 1e-3. Both frameworks start from the same weights (seed
    1000, normal with std sqrt(2/18), biases 0) and see the same noise; the epochs alternate
    (convgrad, PyTorch, convgrad, ...) so that a machine busy with other work slows both alike. The
    table gives the median seconds per epoch of each, and the ratio convgrad/PyTorch as the median over
    the epoch pairs (each convgrad epoch against the PyTorch epoch run right after it).
(b) Time to a held-out MSE of 0.012 (200 held-out images, one fixed draw of the noise) with Adam
    (lr 1e-2) on mini-batches of 10 images, same start and noise for both; the held-out loss is
    checked after every epoch (not timed), up to ``--max-epochs``.

Everything is float64 (the course's dtype), PyTorch on one thread (``torch.set_num_threads(1)``;
two threads are slower and erratic on these machines), convgrad with ``convgrad.set_num_threads(1)``.
Without PyTorch the script still times convgrad and says that the PyTorch columns are skipped.

convgrad's side runs through ``convgrad.nn`` + ``convgrad.optim`` when they exist; until then (and with
``--functional``) it runs chapter 13's loop on ``convgrad.functional``: ``conv2d``/``relu`` forward,
``conv2d_backward``/``relu_backward`` layer by layer (no input gradient for the first layer), SGD and
Adam (PyTorch's update rules) on the arrays in place. The first column says which.
"""

import argparse
import platform
import statistics
import sys
import time

import numpy as np

import convgrad
from convgrad.data import images_2d, salt_and_pepper
from convgrad.functional import conv2d, conv2d_backward, mse_loss, mse_loss_backward, relu, relu_backward

try:
    from convgrad import nn, optim
    from convgrad.autograd import Tensor, no_grad
except ImportError:  # the engine is not there yet: chapter 13's functional loop
    nn = None

try:
    import torch
except ImportError:  # the PyTorch columns are skipped
    torch = None

P_NOISE, LR_SGD, LR_ADAM, TARGET = 0.1, 1e-3, 1e-2, 0.012


def data():
    clean = images_2d(1000, 32, np.random.default_rng(13))[:, None]
    test_clean = images_2d(200, 32, np.random.default_rng(130))[:, None]
    test_noisy = salt_and_pepper(test_clean, P_NOISE, np.random.default_rng(131), salt=1.0, pepper=0.0)
    return clean, test_clean, test_noisy


def initial_weights(seed=1000):
    rng = np.random.default_rng(seed)
    std = np.sqrt(2 / 18)
    return [(rng.normal(0.0, std, (1, 1, 3, 3)), np.zeros(1)) for _ in range(3)]


def convgrad_model(weights):
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.ReLU(), nn.Conv2d(1, 1, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(1, 1, 3, padding=1))
    for layer, (w, b) in zip((0, 2, 4), weights):
        model[layer].weight.data[...] = w
        model[layer].bias.data[...] = b
    return model


def torch_model(weights):
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.Conv2d(1, 1, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.Conv2d(1, 1, 3, padding=1)).double()
    with torch.no_grad():
        for layer, (w, b) in zip((0, 2, 4), weights):
            model[layer].weight.copy_(torch.from_numpy(w))
            model[layer].bias.copy_(torch.from_numpy(b))
    return model


class ConvgradRunner:
    name = "convgrad"

    def __init__(self, weights, adam=False):
        self.model = convgrad_model(weights)
        self.opt = (optim.Adam(self.model.parameters(), lr=LR_ADAM) if adam
                    else optim.SGD(self.model.parameters(), lr=LR_SGD))
        self.loss_fn = nn.MSELoss()

    def epoch(self, noisy, clean, batch):
        model, opt, loss_fn = self.model, self.opt, self.loss_fn
        for i in range(0, len(clean), batch):
            opt.zero_grad()
            loss = loss_fn(model(Tensor(noisy[i:i + batch])), Tensor(clean[i:i + batch]))
            loss.backward()
            opt.step()

    def held_out(self, noisy, clean):
        with no_grad():
            return mse_loss(self.model(Tensor(noisy)).data, clean)

    def weights(self):
        return np.concatenate([prm.data.ravel() for prm in self.model.parameters()])


class FunctionalRunner:
    """Chapter 13's loop: the network and its backward on convgrad.functional, updates in place."""
    name = "convgrad (functional)"

    def __init__(self, weights, adam=False):
        self.params = [a.copy() for pair in weights for a in pair]
        self.adam, self.t = adam, 0
        self.m = [np.zeros_like(a) for a in self.params]
        self.v = [np.zeros_like(a) for a in self.params]

    def forward(self, x):
        w1, b1, w2, b2, w3, b3 = self.params
        a1 = conv2d(x, w1, b1, padding=1)
        h1 = relu(a1)
        a2 = conv2d(h1, w2, b2, padding=1)
        h2 = relu(a2)
        return conv2d(h2, w3, b3, padding=1), (x, a1, h1, a2, h2)

    def gradients(self, saved, delta):
        x, a1, h1, a2, h2 = saved
        d_h2, g_w3, g_b3 = conv2d_backward(delta, h2, self.params[4], padding=1)
        d_h1, g_w2, g_b2 = conv2d_backward(relu_backward(d_h2, a2), h1, self.params[2], padding=1)
        _, g_w1, g_b1 = conv2d_backward(relu_backward(d_h1, a1), x, self.params[0], padding=1,
                                        output_mask=(False, True, True))
        return [g_w1, g_b1, g_w2, g_b2, g_w3, g_b3]

    def epoch(self, noisy, clean, batch):
        for i in range(0, len(clean), batch):
            output, saved = self.forward(noisy[i:i + batch])
            grads = self.gradients(saved, mse_loss_backward(output, clean[i:i + batch]))
            if not self.adam:
                for prm, grad in zip(self.params, grads):
                    prm -= LR_SGD * grad
                continue
            self.t += 1
            for prm, grad, m, v in zip(self.params, grads, self.m, self.v):
                m[...] = 0.9 * m + 0.1 * grad
                v[...] = 0.999 * v + 0.001 * grad ** 2
                prm -= LR_ADAM * (m / (1 - 0.9 ** self.t)) / (np.sqrt(v / (1 - 0.999 ** self.t)) + 1e-8)

    def held_out(self, noisy, clean):
        return mse_loss(self.forward(noisy)[0], clean)

    def weights(self):
        return np.concatenate([prm.ravel() for prm in self.params])


class TorchRunner:
    name = "PyTorch"

    def __init__(self, weights, adam=False):
        self.model = torch_model(weights)
        self.opt = (torch.optim.Adam(self.model.parameters(), lr=LR_ADAM) if adam
                    else torch.optim.SGD(self.model.parameters(), lr=LR_SGD))
        self.loss_fn = torch.nn.MSELoss()

    def epoch(self, noisy, clean, batch):
        model, opt, loss_fn = self.model, self.opt, self.loss_fn
        noisy, clean = torch.from_numpy(noisy), torch.from_numpy(clean)
        for i in range(0, len(clean), batch):
            opt.zero_grad()
            loss = loss_fn(model(noisy[i:i + batch]), clean[i:i + batch])
            loss.backward()
            opt.step()

    def held_out(self, noisy, clean):
        with torch.no_grad():
            return float(self.loss_fn(self.model(torch.from_numpy(noisy)), torch.from_numpy(clean)))

    def weights(self):
        return np.concatenate([prm.detach().numpy().ravel() for prm in self.model.parameters()])


def faithful(epochs, clean, runners):
    """(a): per-epoch seconds of each runner, epochs alternating, same noise for all."""
    noise_rng = np.random.default_rng(14)
    times = {r.name: [] for r in runners}
    for _ in range(epochs):
        noisy = salt_and_pepper(clean, P_NOISE, noise_rng, salt=1.0, pepper=0.0)
        for r in runners:
            start = time.perf_counter()
            r.epoch(noisy, clean, batch=1)
            times[r.name].append(time.perf_counter() - start)
    return times


def race(clean, test_noisy, test_clean, runner, max_epochs):
    """(b): training seconds (evaluation excluded) and epochs until the held-out MSE is below TARGET."""
    noise_rng = np.random.default_rng(18)
    seconds = 0.0
    for epoch in range(1, max_epochs + 1):
        noisy = salt_and_pepper(clean, P_NOISE, noise_rng, salt=1.0, pepper=0.0)
        start = time.perf_counter()
        runner.epoch(noisy, clean, batch=10)
        seconds += time.perf_counter() - start
        loss = runner.held_out(test_noisy, test_clean)
        if loss < TARGET:
            return seconds, epoch, loss
    return seconds, None, loss


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="faithful epochs per framework (default 5)")
    parser.add_argument("--max-epochs", type=int, default=100, help="cap for the Adam race (default 100)")
    parser.add_argument("--skip-adam", action="store_true", help="only the faithful schedule")
    parser.add_argument("--functional", action="store_true",
                        help="time chapter 13's convgrad.functional loop even if convgrad.nn exists")
    args = parser.parse_args(argv)
    ours = FunctionalRunner if (nn is None or args.functional) else ConvgradRunner

    convgrad.set_num_threads(1)
    if torch is not None:
        torch.set_num_threads(1)
    clean, test_clean, test_noisy = data()
    weights = initial_weights()
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, "
          f"PyTorch {torch.__version__ if torch is not None else 'absent: PyTorch columns skipped'}; float64, one thread")

    runners = [ours(weights)] + ([TorchRunner(weights)] if torch is not None else [])
    times = faithful(args.epochs, clean, runners)
    print(f"\n(a) faithful schedule, {args.epochs} epochs x 1000 one-image SGD steps, epochs alternating")
    print(f"{'framework':22s} {'s/epoch (median)':>17s} {'500 epochs (s)':>15s}")
    median = {name: statistics.median(t) for name, t in times.items()}
    for name, m in median.items():
        print(f"{name:22s} {m:17.3f} {500 * m:15.0f}")
    if torch is not None:
        gap = np.abs(runners[0].weights() - runners[1].weights()).max()
        # each epoch of ours against the PyTorch epoch right after it (the same state of the machine)
        paired = statistics.median(a / b for a, b in zip(times[ours.name], times["PyTorch"]))
        print(f"convgrad/PyTorch: {paired:.2f} (median of the epoch pairs; ratio of the medians "
              f"{median[ours.name] / median['PyTorch']:.2f}; target <= 0.5) | largest weight difference after "
              f"the run: {gap:.1e}")

    if args.skip_adam:
        return 0
    print(f"\n(b) Adam (lr {LR_ADAM}), batch 10: time to a held-out MSE below {TARGET} (training time only)")
    results = {}
    for cls in [ours] + ([TorchRunner] if torch is not None else []):
        seconds, epochs, loss = race(clean, test_noisy, test_clean, cls(weights, adam=True), args.max_epochs)
        results[cls.name] = seconds if epochs is not None else None
        where = f"epoch {epochs}" if epochs is not None else f"not reached in {args.max_epochs} epochs"
        print(f"{cls.name:22s} {seconds:8.2f} s | {where} | held-out MSE {loss:.4f}")
    if torch is not None and None not in results.values():
        print(f"convgrad/PyTorch: {results[ours.name] / results['PyTorch']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
