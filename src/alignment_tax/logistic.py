"""Class-balanced, ridge-penalised logistic regression, binary and multinomial, by one damped Newton solver.

The penalty is |W|^2 / (2 C) beside the summed, class-balanced loss (scikit-learn's convention); the bias is
(almost) not penalised. Newton steps start from zero and have no random part, so the same data always gives
the same weights and no seed is needed."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Loss = Callable[[np.ndarray], tuple[float, np.ndarray]]
"""Parameters -> (objective value, class probabilities of every row)."""
Derivatives = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
"""(parameters, probabilities) -> (gradient, Hessian over the flattened parameters)."""


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def damped_newton(
    loss: Loss, derivatives: Derivatives, theta: np.ndarray, iterations: int, tolerance: float
) -> np.ndarray:
    """Minimise a convex ``loss`` from ``theta``: each Newton step is halved until the loss does not rise
    (giving up below 1e-4 of a step); stops when a step gains less than ``tolerance`` of the loss."""
    value, p = loss(theta)
    for _ in range(iterations):
        grad, hessian = derivatives(theta, p)
        step = np.linalg.solve(hessian, grad.ravel()).reshape(theta.shape)
        scale = 1.0
        while scale > 1e-4:
            candidate = theta - scale * step
            new_value, new_p = loss(candidate)
            if new_value <= value:
                break
            scale /= 2
        else:
            break
        done = value - new_value < tolerance * max(1.0, abs(value))
        theta, value, p = candidate, new_value, new_p
        if done:
            break
    return theta


def _design(x: np.ndarray, y: np.ndarray, k: int, c: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows with a bias column, each row's class-balancing weight, and the ridge of each parameter."""
    n, d = x.shape
    counts = np.maximum(np.bincount(y, minlength=k), 1)
    ridge = np.full(d + 1, 1.0 / c)
    ridge[-1] = 1e-6  # the bias is (almost) not penalised
    return np.hstack([x, np.ones((n, 1))]).astype(np.float64), (n / (k * counts))[y], ridge


def fit_binary(x: np.ndarray, y: np.ndarray, c: float, iterations: int = 50) -> tuple[np.ndarray, float]:
    """Binary logistic regression of ``y`` in {0, 1}: weights and bias of P(y = 1)."""
    xb, sample_weight, ridge = _design(x, y, 2, c)

    def loss(t: np.ndarray) -> tuple[float, np.ndarray]:
        z = xb @ t
        value = (sample_weight * (np.logaddexp(0, z) - y * z)).sum() + 0.5 * (ridge * t * t).sum()
        return float(value), sigmoid(z)

    def derivatives(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        grad = xb.T @ (sample_weight * (p - y)) + ridge * t
        return grad, (xb * (sample_weight * p * (1 - p))[:, None]).T @ xb + np.diag(ridge)

    theta = damped_newton(loss, derivatives, np.zeros(xb.shape[1]), iterations, tolerance=1e-10)
    return theta[:-1], float(theta[-1])


def fit_multinomial(
    x: np.ndarray, y: np.ndarray, k: int, c: float, iterations: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression of ``y`` in 0..k-1: a weight row and a bias per class (float32)."""
    xb, sample_weight, ridge = _design(x, y, k, c)
    d1 = xb.shape[1]
    onehot = np.eye(k)[y]

    def loss(t: np.ndarray) -> tuple[float, np.ndarray]:
        logits = xb @ t.T
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        value = -(sample_weight * (onehot * log_p).sum(axis=1)).sum() + 0.5 * (ridge * t * t).sum()
        return float(value), np.exp(log_p)

    def derivatives(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        grad = ((p - onehot) * sample_weight[:, None]).T @ xb + ridge * t
        hessian = np.zeros((k * d1, k * d1))
        for a in range(k):
            for b in range(k):
                w = sample_weight * p[:, a] * ((a == b) - p[:, b])
                block = (xb * w[:, None]).T @ xb
                if a == b:
                    block += np.diag(ridge)
                hessian[a * d1 : (a + 1) * d1, b * d1 : (b + 1) * d1] = block
        return grad, hessian

    theta = damped_newton(loss, derivatives, np.zeros((k, d1)), iterations, tolerance=1e-8)
    return theta[:, :-1].astype(np.float32), theta[:, -1].astype(np.float32)
