"""cnnfast.reference: every op of the functional API in plain NumPy (float64 inside).

It is the specification and the test oracle: readable rather than fast. cnnfast (the C library)
has the same functions with the same signatures and the same argument checks."""
from .dense import linear, linear_backward

__all__ = []
__all__ += ["linear", "linear_backward"]
