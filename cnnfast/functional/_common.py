"""What every functional module does before handing arrays to C."""
import numpy as np


def contiguous(a):
    """`a` as a C-contiguous array (a copy only when it is not one already); None stays None."""
    return None if a is None else np.ascontiguousarray(a)
