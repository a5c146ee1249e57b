"""cnnfast.reference.linear / linear_backward: against torch (when installed) and finite differences."""
import numpy as np
import pytest

from cnnfast import reference as ref


def test_forward_and_backward_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    for lead, fin, fout in [((5,), 7, 3), ((2, 3), 4, 6), ((), 3, 2), ((0,), 3, 2)]:
        x, w, b = rng.standard_normal(lead + (fin,)), rng.standard_normal((fout, fin)), rng.standard_normal(fout)
        dy = rng.standard_normal(lead + (fout,))
        tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
        ty = torch.nn.functional.linear(tx, tw, tb)
        ty.backward(torch.tensor(dy))
        np.testing.assert_allclose(ref.linear(x, w, b), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
        dx, dw, db = ref.linear_backward(dy, x, w)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(dw, tw.grad.numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(db, tb.grad.numpy(), rtol=1e-12, atol=1e-12)


def numeric_grad(f, a, eps=1e-6):
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + eps
        up = f()
        a[i] = old - eps
        down = f()
        a[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


def test_backward_matches_finite_differences():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4)), rng.standard_normal(5)
    dy = rng.standard_normal((2, 3, 5))
    loss = lambda: float(np.sum(ref.linear(x, w, b) * dy))  # noqa: E731
    dx, dw, db = ref.linear_backward(dy, x, w)
    for got, arr in ((dx, x), (dw, w), (db, b)):
        np.testing.assert_allclose(got, numeric_grad(loss, arr), rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("dtype", (np.float32, np.float64))
def test_dtype_is_kept_and_outputs_are_fresh(dtype):
    x, w, b = np.ones((3, 2), dtype), np.ones((4, 2), dtype), np.ones(4, dtype)
    y = ref.linear(x, w, b)
    assert y.dtype == dtype and y.shape == (3, 4) and y.flags.c_contiguous
    for g in ref.linear_backward(np.ones((3, 4), dtype), x, w):
        assert g.dtype == dtype
    assert ref.linear_backward(np.ones((3, 4), dtype), x, w, need_bias_grad=False)[2] is None
