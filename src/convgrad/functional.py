"""The operations of a convolutional network and their backward passes.

Names, argument orders, shapes and semantics follow ``torch.nn.functional``:
"convolution" here is cross-correlation (no kernel flip), layout is NCHW,
weights are ``(C_out, C_in, *kernel)``. Each function lives in a small module
named for what it holds; this module gathers them in one namespace.
"""

# convolution and its gradients (conv.py), patches (unfold.py)
from .conv import conv1d, conv1d_backward, conv2d, conv2d_backward
from .unfold import col2im, im2col

# pooling (pooling.py), activations (activations.py), losses (losses.py),
# single-channel convolve/correlate (signal.py)
from .pooling import avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward
from .activations import relu, relu_backward
from .losses import mse_loss, mse_loss_backward
from .signal import convolve, correlate
