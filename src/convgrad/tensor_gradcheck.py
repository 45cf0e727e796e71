"""gradcheck for Tensors: every gradient a graph records against centred finite differences, as
``torch.autograd.gradcheck`` (re-exported as ``convgrad.autograd.gradcheck``)."""

import numpy as np

from .autograd import Tensor, no_grad
from .gradcheck import numerical_gradient, relative_error

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` when the graph's gradient and finite differences disagree."""


def gradcheck(func, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Check every gradient ``func`` records against centred finite differences, as ``torch.autograd.gradcheck``.

    func: Tensors -> a Tensor (or a tuple of Tensors). inputs: a tuple of Tensors (float64; those with
    requires_grad are checked) and other arguments. The scalar ``L = sum_k <r_k, out_k>``, with fixed
    random weights ``r_k``, is differentiated both ways; each input's gradient must satisfy
    ``|backward - numerical| <= atol + rtol * |numerical|`` entrywise. Returns True or raises GradcheckError.
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    checked = [i for i, a in enumerate(inputs) if isinstance(a, Tensor) and a.requires_grad]
    if not checked:
        raise ValueError("gradcheck needs at least one input Tensor with requires_grad=True")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise ValueError(f"gradcheck needs float64 inputs (finite differences in float32 are too coarse), "
                             f"input {i} is {inputs[i].dtype}")
    outputs = func(*inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(out.shape) for out in outputs]

    def loss(*values):
        outs = func(*values)
        outs = outs if isinstance(outs, tuple) else (outs,)
        return sum(float(np.sum(w * out.data)) for w, out in zip(weights, outs))

    for a in inputs:
        if isinstance(a, Tensor):
            a.grad = None
    total = None
    for w, out in zip(weights, outputs):
        if out.requires_grad:
            term = (out * w).sum()
            total = term if total is None else total + term
    if total is None:
        raise GradcheckError("no output of func requires grad: nothing was recorded")
    total.backward()
    for i in checked:
        def along_i(array, i=i):
            values = list(inputs)
            values[i] = Tensor(array)
            with no_grad():
                return loss(*values)
        numerical = numerical_gradient(along_i, inputs[i].data, eps=eps)
        analytic = np.zeros_like(numerical) if inputs[i].grad is None else inputs[i].grad
        if not np.all(np.abs(analytic - numerical) <= atol + rtol * np.abs(numerical)):
            raise GradcheckError(f"gradient of input {i} disagrees with finite differences: relative error "
                                 f"{relative_error(analytic, numerical):.3g}\nbackward:\n{analytic}\n"
                                 f"numerical:\n{numerical}")
    return True
