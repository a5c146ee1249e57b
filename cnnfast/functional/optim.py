"""The Adam step in C: adam_step (same signature, semantics and checks as
cnnfast.reference.optim); the work runs in csrc/frame/eltwise.c with the GIL released."""
from .. import _core, _shapes
from .._runtime import get_num_threads
from ._common import contiguous as _c

__all__ = ["adam_step"]


def adam_step(param, grad, exp_avg, exp_avg_sq, step, learning_rate=1e-3, beta_1=0.9,
              beta_2=0.999, epsilon=1e-8, weight_decay=0.0, decoupled=False):
    """One step of torch.optim.Adam (decoupled=False) or AdamW (decoupled=True) on param, with
    its moments exp_avg and exp_avg_sq, all three updated in place and returned. step counts
    this step (1 at the first)."""
    c = _shapes.adam_step_args(param, grad, exp_avg, exp_avg_sq, step, learning_rate, beta_1,
                               beta_2, epsilon, weight_decay, decoupled)
    _core.adam_step(param, _c(grad), exp_avg, exp_avg_sq, c, get_num_threads())
    return param, exp_avg, exp_avg_sq
