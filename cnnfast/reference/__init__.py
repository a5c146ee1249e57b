"""cnnfast.reference: every op of the functional API in plain NumPy (float64 inside).

It is the specification and the test oracle: readable rather than fast. cnnfast (the C library)
has the same functions with the same signatures and the same argument checks."""
from .activation import *  # noqa: F401,F403
from .activation import __all__ as _activation_all
from .output import *  # noqa: F401,F403
from .output import __all__ as _output_all

__all__ = [*_activation_all, *_output_all]
