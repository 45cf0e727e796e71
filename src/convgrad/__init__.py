"""convgrad: convolutions and their gradients in NumPy, written to be read.

Modules:
    functional  the operations (convolution, pooling, activations, losses) and their backwards
    toeplitz    the matrix view of a convolution (chapter 4)
    symbolic    SymPy builders and the assertion helper the chapters' check cells use
    gradcheck   finite differences and gradient checks

Convolutions run on several threads (one per CPU by default); set_num_threads
changes that, as torch.set_num_threads does. Results do not depend on it.
"""

from ._threads import get_num_threads, set_num_threads

__all__ = ["get_num_threads", "set_num_threads"]
__version__ = "0.1.0"
