"""The table of valid calls (optable.py) that the thread, fork, memory and floating-point harnesses
run: it covers every op, and every entry is a valid call that the C op and the reference agree on."""
import numpy as np
import pytest

import cnnfast
from cnnfast import reference as ref
from optable import CASES, arrays, build, c_ops, call


def test_every_op_has_an_entry():
    missing = sorted(set(ref.__all__) - set(CASES))
    assert not missing, f"add these ops to tests/optable.py CASES: {missing}"
    assert set(c_ops()) <= set(ref.__all__)
    assert set(c_ops()) <= set(cnnfast.__all__)


@pytest.mark.parametrize("name", sorted(CASES))
def test_entry_is_a_valid_call_of_the_reference(name):
    args, kwargs = build(name, np.float64)
    assert arrays(call(name, args, kwargs, ref))


@pytest.mark.parametrize("big", [False, True], ids=["small", "big"])
@pytest.mark.parametrize("name", c_ops())
def test_entry_gives_the_reference_result_in_c(name, big):
    args, kwargs = build(name, np.float64, big)
    want = arrays(call(name, args, kwargs, ref))
    args, kwargs = build(name, np.float64, big)  # fresh: some calls use up a generator
    got = arrays(call(name, args, kwargs))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if w is None:
            assert g is None
        else:
            np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9)
