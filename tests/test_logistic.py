"""The damped Newton logistic solver against statsmodels' maximum likelihood and scipy's optimiser."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import log_softmax
from statsmodels.discrete.discrete_model import Logit, MNLogit

from alignment_tax.logistic import fit_binary, fit_multinomial


def _data(n: int, d: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping classes with equal counts (so class balancing weighs every row 1)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    x = rng.normal(size=(n, d)) + 0.8 * rng.normal(size=(k, d))[y]
    return x, y


def test_binary_with_a_vanishing_penalty_is_the_maximum_likelihood_fit():
    x, y = _data(400, 3, 2, seed=1)
    w, b = fit_binary(x, y, c=1e9)
    reference = Logit(y, np.hstack([x, np.ones((len(y), 1))])).fit(disp=0, tol=1e-12)
    assert np.concatenate([w, [b]]) == pytest.approx(reference.params, abs=1e-6)


def test_multinomial_with_a_vanishing_penalty_gives_the_maximum_likelihood_probabilities():
    x, y = _data(600, 3, 3, seed=2)
    w, b = fit_multinomial(x, y, 3, c=1e9)
    mine = np.exp(log_softmax(x @ w.T.astype(np.float64) + b, axis=1))
    reference = MNLogit(y, np.hstack([x, np.ones((len(y), 1))])).fit(disp=0, method="newton", tol=1e-12)
    assert mine == pytest.approx(reference.predict(np.hstack([x, np.ones((len(y), 1))])), abs=1e-5)


@pytest.mark.parametrize("k", [2, 3])
def test_the_penalised_class_balanced_objective_is_minimised(k):
    """Against scipy's L-BFGS on the documented objective: balanced weights n / (k count), |W|^2 / (2 C)
    on the weights and 1e-6 on the biases."""
    x, y = _data(300, 4, k, seed=3)
    y = np.where(np.arange(len(y)) % 5 == 0, 0, y)  # unequal counts: balancing matters
    c, n, d = 0.5, len(y), x.shape[1]
    weight = (n / (k * np.bincount(y, minlength=k)))[y]
    xb = np.hstack([x, np.ones((n, 1))])
    ridge = np.append(np.full(d, 1 / c), 1e-6)

    def objective(flat: np.ndarray) -> float:
        theta = flat.reshape(k if k > 2 else 1, d + 1)
        logits = xb @ theta.T
        log_p = log_softmax(np.hstack([np.zeros((n, 1)), logits]) if k == 2 else logits, axis=1)
        return -(weight * log_p[np.arange(n), y]).sum() + 0.5 * (ridge * theta * theta).sum()

    start = np.zeros((k if k > 2 else 1) * (d + 1))
    best = minimize(objective, start, method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-10}).x
    if k == 2:
        w, b = fit_binary(x, y, c)
        assert np.concatenate([w, [b]]) == pytest.approx(best, abs=1e-4)
    else:
        w, b = fit_multinomial(x, y, k, c)
        assert np.hstack([w, b[:, None]]).ravel() == pytest.approx(best, abs=1e-4)
