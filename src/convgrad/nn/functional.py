"""Differentiable operations of a convolutional network, on Tensors (as ``torch.nn.functional``).

Each is a Function whose forward is ``convgrad.functional``'s operation and whose backward is the
backward derived in the chapters (``conv2d_backward`` is chapter 8's three formulas), never a second
implementation. Gradients nobody asked for are not computed: a convolution's backward passes
``ctx.needs_input_grad`` as its output mask, so the first layer's input gradient is skipped.
"""

import numpy as np

from .. import functional as F
from ..autograd import Function
from ..conv import convolution, convolution_backward
from ..operations import ReLU

__all__ = ["conv1d", "conv2d", "max_pool2d", "avg_pool2d", "relu", "mse_loss"]


class _ArrayFunction(Function):
    on_arrays = True


class _Convolution(_ArrayFunction):
    """out = correlate(pad(x), weight) + bias by :func:`convgrad.conv.convolution` (what ``convgrad.functional``'s
    conv1d/conv2d compute), backward by :func:`convgrad.conv.convolution_backward` (what conv1d_backward/
    conv2d_backward compute) from the forward's record: the arguments are checked once, and the weight
    gradient reuses the columns the forward made."""

    nd = None  # 1 or 2
    new_gradients = True   # convolution_backward makes each gradient anew

    @classmethod
    def forward(cls, ctx, x, weight, bias, options):
        out, saved = convolution(cls.nd, x, weight, bias, *options)
        ctx.save_for_backward(saved)
        return out

    @staticmethod
    def backward(ctx, g):
        saved, = ctx.saved_tensors
        return convolution_backward(g, saved, ctx.needs_input_grad[:3]) + (None,)


class Conv1d(_Convolution):
    """x: (N, C_in, L) -> (N, C_out, L_out)."""

    nd = 1


class Conv2d(_Convolution):
    """x: (N, C_in, H, W) -> (N, C_out, H_out, W_out)."""

    nd = 2


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """1-D convolution (cross-correlation) of Tensors: input (N, C_in, L) or (C_in, L),
    weight (C_out, C_in/groups, k), bias (C_out,) or None. Arguments as ``convgrad.functional.conv1d``."""
    return Conv1d.apply(input, weight, bias, (stride, padding, dilation, padding_mode, groups))


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, padding_mode="zeros"):
    """2-D convolution (cross-correlation) of Tensors: input (N, C_in, H, W) or (C_in, H, W),
    weight (C_out, C_in/groups, kh, kw), bias (C_out,) or None. Arguments as ``convgrad.functional.conv2d``."""
    return Conv2d.apply(input, weight, bias, (stride, padding, dilation, padding_mode, groups))


class MaxPool2d(_ArrayFunction):
    """out[n, c, i, j] = the largest entry of window (i, j); the gradient goes to that entry."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding):
        ctx.save_for_backward(x, kernel_size, stride, padding)
        return F.max_pool2d(x, kernel_size, stride=stride, padding=padding)

    @staticmethod
    def backward(ctx, g):
        x, kernel_size, stride, padding = ctx.saved_tensors
        return F.max_pool2d_backward(g, x, kernel_size, stride=stride, padding=padding), None, None, None


class AvgPool2d(_ArrayFunction):
    """out[n, c, i, j] = the mean of window (i, j); each entry of it gets g / (window size)."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, count_include_pad):
        ctx.save_for_backward(x, kernel_size, stride, padding, count_include_pad)
        return F.avg_pool2d(x, kernel_size, stride=stride, padding=padding, count_include_pad=count_include_pad)

    @staticmethod
    def backward(ctx, g):
        x, kernel_size, stride, padding, count_include_pad = ctx.saved_tensors
        return (F.avg_pool2d_backward(g, x, kernel_size, stride=stride, padding=padding,
                                      count_include_pad=count_include_pad), None, None, None, None)


def max_pool2d(input, kernel_size, stride=None, padding=0):
    """Max pooling of a Tensor (N, C, H, W) or (C, H, W), as ``convgrad.functional.max_pool2d``."""
    return MaxPool2d.apply(input, kernel_size, stride, padding)


def avg_pool2d(input, kernel_size, stride=None, padding=0, count_include_pad=True):
    """Average pooling of a Tensor (N, C, H, W) or (C, H, W), as ``convgrad.functional.avg_pool2d``."""
    return AvgPool2d.apply(input, kernel_size, stride, padding, count_include_pad)


def relu(input):
    """max(input, 0) elementwise, any shape (the Function behind ``Tensor.relu``)."""
    return ReLU.apply(input)


class MSELoss(_ArrayFunction):
    """mean, sum or none of (input - target)**2; backward by ``convgrad.functional.mse_loss_backward``."""

    @staticmethod
    def forward(ctx, input, target, reduction):
        ctx.save_for_backward(input, target, reduction)
        return np.asarray(F.mse_loss(input, target, reduction=reduction))

    @staticmethod
    def backward(ctx, g):
        input, target, reduction = ctx.saved_tensors
        need_input, need_target = ctx.needs_input_grad[:2]
        grad = F.mse_loss_backward(input, target, reduction=reduction, grad_output=g)
        # d/d target of (input - target)**2 is minus d/d input.
        return (grad if need_input else None), (-grad if need_target else None), None


def mse_loss(input, target, reduction="mean"):
    """Mean squared error of Tensors of one shape: ``mean((input - target)**2)`` (or "sum", "none")."""
    return MSELoss.apply(input, target, reduction)
