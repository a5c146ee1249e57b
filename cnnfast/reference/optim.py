"""The Adam step in plain NumPy: one array operation at a time, each rounded in the data type, in
the order torch.optim.Adam's single-tensor loop takes them (the C kernel follows it op by op)."""
import numpy as np

from .. import _shapes

__all__ = ["adam_step"]


def adam_step(param, grad, exp_avg, exp_avg_sq, step, learning_rate=1e-3, beta_1=0.9,
              beta_2=0.999, epsilon=1e-8, weight_decay=0.0, decoupled=False):
    """One step of torch.optim.Adam (decoupled=False) or AdamW (decoupled=True), in place:

        AdamW: param *= 1 - learning_rate*weight_decay;  Adam: g = grad + weight_decay*param
        exp_avg = lerp(exp_avg, g, 1 - beta_1)
        exp_avg_sq = beta_2*exp_avg_sq + (1 - beta_2)*g*g
        param -= learning_rate/(1 - beta_1**step) * exp_avg
                 / (sqrt(exp_avg_sq)/sqrt(1 - beta_2**step) + epsilon)

    param, exp_avg, exp_avg_sq: C-contiguous, writeable, apart; grad of their shape and dtype;
    step counts this step (1 at the first). Returns (param, exp_avg, exp_avg_sq), updated."""
    c = _shapes.adam_step_args(param, grad, exp_avg, exp_avg_sq, step, learning_rate, beta_1,
                               beta_2, epsilon, weight_decay, decoupled)
    g, m, v = np.asarray(grad), exp_avg, exp_avg_sq
    if c.decoupled:
        param *= c.decay
    elif c.weight_decay:
        g = param * c.weight_decay + g
    t = g - m
    t *= c.lerp       # torch's lerp: m + w*(g - m) for a weight w < 0.5, else g - (1 - w)*(g - m)
    if c.lerp_small:
        m += t
    else:
        np.subtract(g, t, out=m)
    v *= c.beta2
    v += (g * g) * c.one_minus_beta2
    den = np.sqrt(v)
    den /= c.bias2_sqrt
    den += c.eps
    update = m / den
    update *= c.neg_step_size
    param += update
    return param, exp_avg, exp_avg_sq
