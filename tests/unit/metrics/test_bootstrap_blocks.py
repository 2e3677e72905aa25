"""The bootstrap draws its resamples in blocks: the same interval as one big matrix."""

from __future__ import annotations

import numpy as np
import pytest

from makerkit.metrics._metrics import BOOTSTRAP_RESAMPLES, _bootstrap_ci


@pytest.mark.parametrize("n", [3, 600, 5000])
def test_blocks_give_the_interval_of_one_matrix(n: int) -> None:
    per = np.random.default_rng(n).normal(size=n)
    rng = np.random.default_rng(11)
    means = per[rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))].mean(axis=1)
    expected = np.percentile(means, [2.5, 97.5]).tolist()
    assert _bootstrap_ci(per, 11) == expected
