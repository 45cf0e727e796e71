"""Module, Parameter and Sequential: the containers of a network, as in ``torch.nn``."""

from collections import OrderedDict, namedtuple

import numpy as np

from ..autograd import Tensor

__all__ = ["Parameter", "Module", "Sequential"]

# What load_state_dict returns (PyTorch's _IncompatibleKeys has the same fields)
IncompatibleKeys = namedtuple("IncompatibleKeys", "missing_keys unexpected_keys")


class Parameter(Tensor):
    """A Tensor that is a module's learnable weight: requires_grad is True, and assigning one to a
    Module's attribute registers it in ``parameters()``."""

    def __init__(self, data, requires_grad=True):
        array = np.asarray(data.data if isinstance(data, Tensor) else data)   # shared, as torch.nn.Parameter
        super().__init__(array if np.issubdtype(array.dtype, np.floating) else array.astype(np.float64),
                         requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """A network or a layer: ``forward`` says what it computes, attributes hold its Parameters and
    sub-Modules (registered in assignment order), ``module(x)`` calls ``forward(x)``."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() before "
                                 f"assigning attributes")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or None for an absent one such as ``bias=False``) as ``name``."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter takes a Parameter or None, got {type(param).__name__}")
        object.__setattr__(self, name, param)
        self._parameters[name] = param

    def forward(self, *inputs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *inputs, **kwargs):
        return self.forward(*inputs, **kwargs)

    def named_parameters(self, prefix=""):
        """(dotted name, Parameter) of this module's parameters, then each sub-module's, in order."""
        for name, p in self._parameters.items():
            if p is not None:
                yield prefix + name, p
        for name, module in self._modules.items():
            yield from module.named_parameters(prefix + name + ".")

    def parameters(self):
        return (p for _, p in self.named_parameters())

    def children(self):
        return iter(self._modules.values())

    def zero_grad(self, set_to_none=True):
        """Forget every parameter's gradient (``grad = None``, or zeros with ``set_to_none=False``)."""
        for p in self.parameters():
            p.grad = None if set_to_none or p.grad is None else np.zeros_like(p.grad)

    def train(self, mode=True):
        object.__setattr__(self, "training", bool(mode))
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def state_dict(self):
        """OrderedDict of dotted name -> a copy of the parameter's array."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the parameters of the same names; returns ``(missing_keys, unexpected_keys)``.

        As in PyTorch, a shape that differs, and with ``strict`` a name missing on either side, raise a
        RuntimeError that lists every such error; without ``strict`` the names in common are loaded. Unlike
        PyTorch (which loads the rest before raising), nothing is loaded when there is an error."""
        own = dict(self.named_parameters())
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        values, errors = {}, []
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{name}"' for name in missing) + ".")
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{name}"' for name in unexpected) + ".")
        for name, p in own.items():
            if name in state_dict:
                value = state_dict[name]
                values[name] = np.asarray(value.data if isinstance(value, Tensor) else value)
                if values[name].shape != p.shape:
                    errors.append(f"size mismatch for {name}: copying a param with shape {values[name].shape} from "
                                  f"checkpoint, the shape in current model is {p.shape}.")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        for name, value in values.items():
            own[name].data[...] = value
        return IncompatibleKeys(missing, unexpected)

    def extra_repr(self):
        return ""

    def __repr__(self):
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(module).replace("\n", "\n  ") for name, module in self._modules.items()]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class Sequential(Module):
    """Modules applied in order: ``Sequential(a, b, c)(x) = c(b(a(x)))``; named "0", "1", ...."""

    def __init__(self, *modules):
        super().__init__()
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential takes Modules, argument {i} is {type(module).__name__}")
            setattr(self, str(i), module)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index):
        if isinstance(index, slice):  # the layers keep their names, as in PyTorch (so state dicts line up)
            part = Sequential()
            for name, module in list(self._modules.items())[index]:
                setattr(part, name, module)
            return part
        return list(self._modules.values())[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
