"""Optimisers that update Parameters from their ``.grad``, as ``torch.optim`` (same formulas, same order of
operations, so that a step matches PyTorch's to rounding)."""

import math

import numpy as np

from .autograd import Tensor

__all__ = ["Optimizer", "SGD", "Adam"]


class Optimizer:
    """Holds the parameters (a list, from an iterable such as ``model.parameters()``) and per-parameter state."""

    def __init__(self, params, defaults):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer got an empty parameter list")
        for p in self.params:   # PyTorch's checks: Tensors, and leaves (a leaf that needs no gradient is kept)
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not (p.is_leaf or p._retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        self.defaults = defaults
        self.state = [{} for _ in self.params]

    def zero_grad(self, set_to_none=True):
        """Forget every parameter's gradient (None, or zeros with ``set_to_none=False``)."""
        for p in self.params:
            p.grad = None if set_to_none or p.grad is None else np.zeros_like(p.grad)

    def step(self):
        """Update every parameter that has a gradient, in place (``p.data``; nothing is recorded)."""
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                self._update(p.data, p.grad, state)


class SGD(Optimizer):
    """Stochastic gradient descent, ``torch.optim.SGD``'s rule:

        g = grad + weight_decay * p
        b = g (first step), else momentum * b + (1 - dampening) * g
        g = g + momentum * b if nesterov else b          (when momentum != 0)
        p = p - lr * g
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        if not lr >= 0:
            raise ValueError(f"invalid learning rate: {lr}")
        if not momentum >= 0:
            raise ValueError(f"invalid momentum value: {momentum}")
        if not weight_decay >= 0:
            raise ValueError(f"invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.weight_decay, self.nesterov = weight_decay, nesterov

    def _update(self, p, grad, state):
        g = grad + self.weight_decay * p if self.weight_decay else grad
        if self.momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = np.array(g, copy=True)
            else:
                b = state["momentum_buffer"]
                b *= self.momentum
                b += (1 - self.dampening) * g
            b = state["momentum_buffer"]
            g = g + self.momentum * b if self.nesterov else b
        p -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), ``torch.optim.Adam``'s rule at step t:

        g = grad + weight_decay * p
        m = beta1 m + (1 - beta1) g,   v = beta2 v + (1 - beta2) g^2
        p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        if not lr >= 0:
            raise ValueError(f"invalid learning rate: {lr}")
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"invalid beta parameters: {betas}")
        if not eps >= 0:
            raise ValueError(f"invalid epsilon value: {eps}")
        if not weight_decay >= 0:
            raise ValueError(f"invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        self.lr, self.betas, self.eps, self.weight_decay = lr, tuple(betas), eps, weight_decay

    def _update(self, p, grad, state):
        beta1, beta2 = self.betas
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p))
        state["step"] += 1
        t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
        g = grad + self.weight_decay * p if self.weight_decay else grad
        m += (1 - beta1) * (g - m)          # PyTorch's lerp: m = m + (1 - beta1) (g - m)
        v *= beta2
        v += (1 - beta2) * g * g
        bias_correction1, bias_correction2 = 1 - beta1 ** t, 1 - beta2 ** t
        denom = np.sqrt(v) / math.sqrt(bias_correction2) + self.eps
        p -= (self.lr / bias_correction1) * (m / denom)
