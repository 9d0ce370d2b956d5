"""Liblinear's L2-regularised logistic regression, solved in numpy on a compact feature matrix.

:class:`~sklearn.linear_model.LogisticRegression` with ``solver="liblinear"`` (primal) minimises

    f(w) = ½ wᵀw + Σᵢ Cᵢ log(1 + exp(-yᵢ wᵀxᵢ)),   Cᵢ = C · class_weight[yᵢ] · sample_weightᵢ,

with the intercept as one more, regularised, feature of value 1 (``intercept_scaling=1``), by a
trust-region Newton method (TRON) stopped when ‖∇f(w)‖ ≤ ε‖∇f(0)‖,
ε = tol · max(min(n₊, n₋), 1) / n. :func:`fit_logistic` runs the same algorithm (a line-by-line
port of the bundled ``tron.cpp``) on the same objective and the same stopping rule, so it stops
at the same optimum within that tolerance, but it is several times faster on the classifier's
hashed features, which is what ``moderation train`` spends its time on:

- only the columns some training row uses are kept (the hashed views have 1.5 M columns, 10,000
  comments use about 150,000; a column no row uses gets a zero weight anyway): liblinear runs
  its vector operations over every column, and copies the matrix on every fit;
- equal rows (repeated comments) and equal columns (n-grams seen in the same comments only) are
  merged without changing the objective (:class:`CompactProblem`): on ``train_bench.py``'s
  10,000 comments, 150,000 used columns are 40,000 distinct ones and 4.6 M stored values 2.0 M;
- the function and the gradient, which decide where the solver stops, are computed in float64
  as liblinear does; the Hessian-vector products of the conjugate-gradient steps, which only
  choose the direction of a step, use the float32 matrix the features come in (half the
  memory traffic; the trust region checks every step against the float64 function);
- a fit may start from a previous solution (``w0``): the next C of a grid from the previous
  one, the final fit from the folds' mean. The stopping rule stays relative to the gradient at
  zero, so a warm start reaches the same tolerance.

No library offers this: scikit-learn's liblinear has no warm start and copies the matrix per
fit, and its lbfgs / newton-cg solvers do not regularise the intercept (another objective).
The Hessian products are scipy's sparse products (a fused product compiled with numba was
slower: its scattered adds stall); liblinear 2.20's diagonal preconditioner and its quadratic
CG stopping rule took more products on these features, so neither is used.

Examples
--------
>>> import numpy as np, scipy.sparse as sp
>>> X = sp.csr_matrix(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.8]], dtype=np.float32))
>>> y = np.array([1, 1, 0, 0])
>>> clf, _w = fit_logistic(CompactProblem(X, y), C=4.0)
>>> clf.predict(X).tolist()
[1, 1, 0, 0]
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.utils.class_weight import compute_class_weight


class CompactProblem:
    """Training rows laid out for :func:`fit_logistic`: the distinct rows and the distinct
    columns they use, then the intercept's column of ones, in float64 and float32.

    Both reductions leave the objective and every step of the solver as they are:

    - rows with the same features and the same label are one row whose cost is the sum of
      theirs (Σᵢ Cᵢ log(1 + exp(-y wᵀx)) over equal rows is one term with C = ΣCᵢ);
    - m equal columns (the n-grams of one comment, or of the same few comments, on hashed
      features) are one column scaled by √m: gradients, Hessian products and the penalty treat
      equal columns alike, so their weights stay equal along the whole path, and with u = √m·w
      the m terms x·w and the penalty m·w² are (√m·x)·u and u²: a rotation, under which TRON's
      steps and stopping rule are the same.

    Row subsets (the CV folds) are taken with :meth:`rows` and keep the same columns, so their
    solutions can warm-start each other.

    Parameters
    ----------
    X : sparse matrix of shape (n_samples, n_features)
    y : ndarray of 0/1 of shape (n_samples,)
    sample_weight : ndarray of shape (n_samples,), optional

    Attributes
    ----------
    X64, X32 : csr_matrix of shape (n_distinct_rows, n_distinct_columns + 1)
    labels, weights : ndarray of shape (n_distinct_rows,)
        Their label and summed sample weight.
    y : ndarray of shape (n_samples,)
        The label of every row (class weights and the stopping rule count rows, as liblinear does).
    key : ndarray of shape (n_samples,)
        Each row's distinct row.
    columns, merged, scale : ndarray
        The used columns of ``X``, the distinct column each is, and each distinct column's √m.
    """

    def __init__(self, X, y: np.ndarray, sample_weight: np.ndarray | None = None):
        X = sp.csr_matrix(X)
        self.width = X.shape[1]
        self.columns = np.flatnonzero(np.bincount(X.indices, minlength=self.width))
        compact = X[:, self.columns] if len(self.columns) < self.width else X.copy()
        compact.sum_duplicates()  # sorted indices: equal rows have equal bytes
        self.y = np.asarray(y).astype(int)
        self.sample_weight = np.ones(len(self.y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
        self.key, first = _distinct(compact, self.y)
        distinct_rows = compact[first].tocsc()
        distinct_rows.sum_duplicates()
        self.merged, rep = _distinct(distinct_rows)
        self.scale = np.sqrt(np.bincount(self.merged))
        merged = distinct_rows[:, rep].astype(np.float64) @ sp.diags(self.scale)
        ones = sp.csr_matrix(np.ones((len(first), 1), dtype=np.float64))
        self.X64 = sp.hstack([merged, ones], format="csr")
        self.X32 = self.X64.astype(np.float32)
        self.labels = self.y[first]
        self.weights = np.bincount(self.key, self.sample_weight, minlength=len(first))
        self._xt32: sp.csr_matrix | None = None

    @property
    def xt32(self) -> sp.csr_matrix:
        """``X32``'s transpose as a CSR matrix (a product with it gathers instead of scattering:
        about a quarter faster than through the transposed view)."""
        if self._xt32 is None:
            self._xt32 = self.X32.T.tocsr()
        return self._xt32

    def rows(self, index: np.ndarray) -> CompactProblem:
        """The problem of the rows ``index`` (same columns), e.g. a fold's training rows."""
        keys = self.key[index]
        present = np.unique(keys)
        sub = object.__new__(CompactProblem)
        sub.width, sub.columns, sub.merged, sub.scale = self.width, self.columns, self.merged, self.scale
        sub.X64, sub.X32, sub._xt32 = self.X64[present], self.X32[present], None
        sub.labels = self.labels[present]
        sub.weights = np.bincount(keys, self.sample_weight[index], minlength=len(self.labels))[present]
        sub.y, sub.sample_weight = self.y[index], self.sample_weight[index]
        sub.key = np.searchsorted(present, keys)
        return sub

    def expand(self, w: np.ndarray) -> tuple[np.ndarray, float]:
        """Full-width coefficients and the intercept of a solution ``w`` (distinct columns + bias)."""
        coef = np.zeros(self.width)
        coef[self.columns] = (w[:-1] / self.scale)[self.merged]
        return coef, float(w[-1])

    def decision(self, w: np.ndarray, index: np.ndarray | None = None) -> np.ndarray:
        """``X @ coef + intercept`` of the rows ``index`` (default: all)."""
        z = np.asarray(self.X64 @ w)
        return z[self.key if index is None else self.key[index]]


def _distinct(M: sp.csr_matrix | sp.csc_matrix, tags: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each major-axis slice of ``M`` (a row of CSR, a column of CSC; indices sorted), the
    number of its distinct (slice, tag), numbered by first occurrence, and each one's first slice."""
    ptr, ind, val = M.indptr, M.indices, M.data
    seen: dict[tuple, int] = {}
    tag = tags.tolist() if tags is not None else [0] * (len(ptr) - 1)
    key = np.array(
        [
            seen.setdefault((t, ind[a:b].tobytes(), val[a:b].tobytes()), len(seen))
            for t, a, b in zip(tag, ptr[:-1], ptr[1:])
        ],
        dtype=np.intp,
    )
    first = np.zeros(len(seen), dtype=np.intp)
    first[key[::-1]] = np.arange(len(key))[::-1]
    return key, first


@dataclass
class _Objective:
    """liblinear's ``l2r_lr_fun``: f, ∇f and Hessian-vector products, z = Xw cached."""

    X64: sp.csr_matrix
    X32: sp.csr_matrix
    xt32: sp.csr_matrix
    y: np.ndarray  # ±1
    C: np.ndarray  # per-row cost
    z: np.ndarray | None = None
    D: np.ndarray | None = None

    def fun(self, w: np.ndarray) -> float:
        self.z = self.X64 @ w
        return 0.5 * float(w @ w) + float(self.C @ np.logaddexp(0.0, -self.y * self.z))

    def grad(self, w: np.ndarray) -> np.ndarray:
        assert self.z is not None  # fun(w) was called at this w
        s = expit(self.y * self.z)
        self.D = (self.C * s * (1.0 - s)).astype(np.float32)
        return w + self.X64.T @ (self.C * (s - 1.0) * self.y)

    def hess_vec(self, v: np.ndarray) -> np.ndarray:
        assert self.D is not None
        return v + self.xt32 @ (self.D * (self.X32 @ v.astype(np.float32)))


def _trcg(obj: _Objective, delta: float, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Conjugate gradients for the trust-region step (``TRON::trcg``): ``(s, r, iterations)``.

    Without a preconditioner, as the bundled liblinear: its diagonal preconditioner (liblinear
    2.20) took 1.2 to 3 times more Hessian products on these features."""
    s = np.zeros_like(g)
    r = -g
    d = r.copy()
    cgtol = 0.1 * np.linalg.norm(g)
    cg_iter = 0
    rTr = float(r @ r)
    while np.linalg.norm(r) > cgtol:
        cg_iter += 1
        Hd = obj.hess_vec(d)
        alpha = rTr / float(d @ Hd)
        s += alpha * d
        if np.linalg.norm(s) > delta:
            s -= alpha * d
            std, sts, dtd = float(s @ d), float(s @ s), float(d @ d)
            dsq = delta * delta
            rad = np.sqrt(std * std + dtd * (dsq - sts))
            alpha = (dsq - sts) / (std + rad) if std >= 0 else (rad - std) / dtd
            s += alpha * d
            r -= alpha * Hd
            break
        r -= alpha * Hd
        rnewTrnew = float(r @ r)
        d = r + (rnewTrnew / rTr) * d
        rTr = rnewTrnew
    return s, r, cg_iter


def _tron(obj: _Objective, w: np.ndarray, eps_abs: float, max_iter: int) -> tuple[np.ndarray, int]:
    """``TRON::tron`` from ``w``, stopped at ‖∇f‖ ≤ ``eps_abs``: ``(w, iterations)``."""
    eta0, eta1, eta2 = 1e-4, 0.25, 0.75
    sigma1, sigma2, sigma3 = 0.25, 0.5, 4.0
    f = obj.fun(w)
    g = obj.grad(w)
    delta = float(np.linalg.norm(g))
    it = 1
    search = delta > eps_abs
    while it <= max_iter and search:
        s, r, _cg = _trcg(obj, delta, g)
        w_new = w + s
        gs = float(g @ s)
        prered = -0.5 * (gs - float(s @ r))
        fnew = obj.fun(w_new)
        actred = f - fnew
        snorm = float(np.linalg.norm(s))
        if it == 1:
            delta = min(delta, snorm)
        alpha = sigma3 if fnew - f - gs <= 0 else max(sigma1, -0.5 * (gs / (fnew - f - gs)))
        if actred < eta0 * prered:
            delta = min(max(alpha, sigma1) * snorm, sigma2 * delta)
        elif actred < eta1 * prered:
            delta = max(sigma1 * delta, min(alpha * snorm, sigma2 * delta))
        elif actred < eta2 * prered:
            delta = max(sigma1 * delta, min(alpha * snorm, sigma3 * delta))
        else:
            delta = max(delta, min(alpha * snorm, sigma3 * delta))
        if actred > eta0 * prered:
            it += 1
            w, f = w_new, fnew
            g = obj.grad(w)
            if np.linalg.norm(g) <= eps_abs:
                break
        if f < -1.0e32 or (abs(actred) <= 0 and prered <= 0):
            break
        if abs(actred) <= 1.0e-12 * abs(f) and abs(prered) <= 1.0e-12 * abs(f):
            break
    return w, it - 1


def _class_weights(class_weight, classes: np.ndarray, y: np.ndarray, sample_weight: np.ndarray) -> np.ndarray:
    """The class weights scikit-learn's liblinear fit uses: ``"balanced"`` counts the rows'
    sample weights where the installed scikit-learn's compute_class_weight takes them, else rows."""
    if class_weight is None:
        return np.ones(len(classes))
    if "sample_weight" in inspect.signature(compute_class_weight).parameters:
        return compute_class_weight(class_weight, classes=classes, y=y, sample_weight=sample_weight)
    return compute_class_weight(class_weight, classes=classes, y=y)


def fit_logistic(
    problem: CompactProblem,
    C: float,
    *,
    class_weight: dict | str | None = "balanced",
    tol: float = 1e-3,
    max_iter: int = 300,
    w0: np.ndarray | None = None,
    estimator: LogisticRegression | None = None,
) -> tuple[LogisticRegression, np.ndarray]:
    """Fit what ``LogisticRegression(C=C, solver="liblinear", class_weight=class_weight,
    tol=tol, max_iter=max_iter).fit(X, y, sample_weight)`` fits, on ``problem``.

    Returns ``estimator`` (default: that LogisticRegression, unfitted) with its fitted attributes
    set (full-width ``coef_``, ``intercept_``, ``classes_``, ``n_iter_``) and the compact
    solution (the kept columns' weights, then the intercept), to warm-start another fit (``w0``).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> X = sp.random(200, 50, density=0.1, format="csr", random_state=0)
    >>> y = (X[:, :5].sum(axis=1).A1 > 0.2).astype(int)
    >>> ours, _w = fit_logistic(CompactProblem(X, y), 4.0, tol=1e-8)
    >>> ref = LogisticRegression(C=4.0, solver="liblinear", class_weight="balanced", tol=1e-8).fit(X, y)
    >>> bool(np.allclose(ours.coef_, ref.coef_, atol=1e-6))
    True
    """
    y = problem.y
    classes = np.unique(y)
    if len(classes) != 2:
        raise ValueError(f"two classes are needed to fit a logistic regression, got {classes.tolist()}")
    cw = _class_weights(class_weight, classes, y, problem.sample_weight)
    positive = problem.labels == classes[1]
    costs = C * problem.weights * np.where(positive, cw[1], cw[0])
    sign = np.where(positive, 1.0, -1.0)
    obj = _Objective(problem.X64, problem.X32, problem.xt32, sign, costs)
    n_pos = int((y == classes[1]).sum())
    eps = tol * max(min(n_pos, len(y) - n_pos), 1) / len(y)
    gnorm0 = float(np.linalg.norm(problem.X64.T @ (-0.5 * costs * sign)))  # ‖∇f(0)‖
    w = np.zeros(problem.X64.shape[1]) if w0 is None else np.array(w0, dtype=np.float64)
    w, n_iter = _tron(obj, w, eps * gnorm0, max_iter)
    clf = estimator if estimator is not None else LogisticRegression(C=C, solver="liblinear", class_weight=class_weight)
    coef, intercept = problem.expand(w)
    clf.coef_ = coef.reshape(1, -1)
    clf.intercept_ = np.array([intercept])
    clf.classes_ = classes
    clf.n_iter_ = np.array([n_iter], dtype=np.int32)
    clf.n_features_in_ = problem.width
    return clf, w
