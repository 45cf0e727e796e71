"""Layers and containers of a network on :mod:`convgrad.autograd` Tensors, as ``torch.nn``.

Modules:
    module      Parameter, Module (parameters, state_dict, zero_grad), Sequential
    layers      Conv1d, Conv2d, ReLU, MaxPool2d, AvgPool2d, MSELoss
    functional  the same operations as functions of Tensors (each a Function with the derived backward)
    init        initialisations (normal_, uniform_, xavier_*, kaiming_*, zeros_), seeded by a numpy Generator
"""

from . import functional, init
from .layers import AvgPool2d, Conv1d, Conv2d, MaxPool2d, MSELoss, ReLU
from .module import Module, Parameter, Sequential

__all__ = ["functional", "init", "Module", "Parameter", "Sequential", "Conv1d", "Conv2d", "ReLU", "MaxPool2d",
           "AvgPool2d", "MSELoss"]
