"""The functional API in C: same names and signatures as cnnfast.reference.

An op is here only once it runs in C; until then it is absent (use cnnfast.reference)."""
from .dense import linear, linear_backward

__all__ = []
__all__ += ["linear", "linear_backward"]
