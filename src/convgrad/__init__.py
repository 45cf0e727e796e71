"""convgrad: convolutions and their gradients in NumPy, written to be read.

Modules:
    functional  the operations (convolution, pooling, activations, losses) and their backwards
    toeplitz    the matrix view of a convolution (chapter 4)
    symbolic    SymPy builders and the assertion helper the chapters' check cells use
    gradcheck   finite differences and gradient checks
"""

__version__ = "0.1.0"
