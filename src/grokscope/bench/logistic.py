"""A tiny L2-regularised logistic regression (numpy, Newton's method) for the benchmark's combined model.

Features are standardised on the training rows (their mean and std, kept for prediction); the intercept is not
penalised. Newton/IRLS on a few dozen features converges in a handful of iterations; scikit-learn is not needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Logistic:
    coef: np.ndarray  # [d]
    intercept: float
    mean: np.ndarray
    std: np.ndarray

    def decision(self, X: np.ndarray) -> np.ndarray:
        Z = (np.asarray(X, float) - self.mean) / self.std
        return Z @ self.coef + self.intercept

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.decision(X)))


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1.0, iters: int = 50, tol: float = 1e-8) -> Logistic:
    """Minimise mean log-loss + (l2 / 2n)·||w||² over standardised ``X [n, d]`` and labels ``y [n]`` (0/1)."""
    X, y = np.asarray(X, float), np.asarray(y, float)
    mean = X.mean(0)
    std = X.std(0)
    std = np.where(std > 0, std, 1.0)
    Z = np.hstack([(X - mean) / std, np.ones((X.shape[0], 1))])
    n, d1 = Z.shape
    w = np.zeros(d1)
    reg = np.full(d1, l2)
    reg[-1] = 0.0  # no penalty on the intercept
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-(Z @ w)))
        g = Z.T @ (p - y) + reg * w
        H = (Z * (p * (1 - p))[:, None]).T @ Z + np.diag(reg) + 1e-9 * np.eye(d1)
        step = np.linalg.solve(H, g)
        w -= step
        if np.abs(step).max() < tol:
            break
    return Logistic(w[:-1], float(w[-1]), mean, std)
