"""Arenas: rank models from pairwise matches with Elo (online updates) and Bradley–Terry (maximum likelihood).

A match is `(model_a, model_b, outcome)` with outcome 1.0 (a wins), 0.0 (b wins) or 0.5 (tie). Both methods
use the Elo scale: a gap of 400 points means 10:1 odds, P(a beats b) = 1 / (1 + 10^((R_b - R_a) / 400)).
Bradley–Terry is the same likelihood a reward model is trained with (3.4), with players in place of answers.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np

ELO_SCALE = 400 / math.log(10)  # Elo points per unit of natural log-odds (about 173.7)
INITIAL_RATING = 1000.0
OUTCOMES = (0.0, 0.5, 1.0)
Match = tuple[str, str, float]


def _require_matches(matches: Sequence[Match]) -> None:
    """Refuse an empty list, a malformed match, a self-match or an outcome other than 0, 0.5 or 1."""
    if len(matches) == 0:
        raise ValueError("the match list is empty; pass at least one (model_a, model_b, outcome) match")
    for match in matches:
        if len(match) != 3:
            raise ValueError(f"a match is (model_a, model_b, outcome), got {match!r}")
        a, b, outcome = match
        if a == b:
            raise ValueError(f"{a!r} cannot play itself; a match needs two different models")
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be 1.0 (a wins), 0.0 (b wins) or 0.5 (tie), got {outcome!r} in {match!r}")


def players(matches: Sequence[Match]) -> list[str]:
    """The models that appear in `matches`, in order of first appearance."""
    _require_matches(matches)
    return list(dict.fromkeys(name for a, b, _ in matches for name in (a, b)))


def _rating(ratings: dict[str, float], name: str) -> float:
    if name not in ratings:
        known = ", ".join(sorted(ratings))
        raise KeyError(f"no rating for {name!r}: that model played no match here (rated models: {known})")
    return ratings[name]


def expected_score(rating_a: float, rating_b: float) -> float:
    """P(a beats b) on the Elo scale: 1 / (1 + 10^((R_b - R_a) / 400)), a tie counting as half a win."""
    return 1.0 / (1.0 + 10 ** ((rating_b - rating_a) / 400))


def win_probability(ratings: dict[str, float], model_a: str, model_b: str) -> float:
    """P(model_a beats model_b) from a ratings dict; a model without a rating raises KeyError."""
    return expected_score(_rating(ratings, model_a), _rating(ratings, model_b))


def elo_update(rating_a: float, rating_b: float, outcome: float, k: float = 32) -> tuple[float, float]:
    """One Elo step: each side moves by k times (actual score - expected score); the points a gains, b loses."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be 1.0 (a wins), 0.0 (b wins) or 0.5 (tie), got {outcome!r}")
    delta = k * (outcome - expected_score(rating_a, rating_b))
    return rating_a + delta, rating_b - delta


def elo_ratings(matches: Sequence[Match], k: float = 32, initial: float = INITIAL_RATING) -> dict[str, float]:
    """Elo ratings after playing `matches` in the given order, every model starting at `initial`.

    Online and order-dependent: the same matches in another order give other ratings.
    """
    ratings = dict.fromkeys(players(matches), float(initial))
    for a, b, outcome in matches:
        ratings[a], ratings[b] = elo_update(ratings[a], ratings[b], outcome, k)
    return ratings


def bt_log_likelihood(ratings: dict[str, float], matches: Sequence[Match], scale: float = ELO_SCALE) -> float:
    """Bradley–Terry log-likelihood (nats): sum of y log p + (1 - y) log(1 - p), p = sigmoid((R_a - R_b) / scale).

    A tie (y = 0.5) counts as half a win and half a loss. With `scale=1` and ratings = rewards this is minus
    the summed reward-model loss -log sigmoid(r_chosen - r_rejected) over (chosen, rejected, 1.0) matches.
    """
    _require_matches(matches)
    total = 0.0
    for a, b, outcome in matches:
        d = (_rating(ratings, a) - _rating(ratings, b)) / scale
        # log sigmoid(d) = -log(1 + e^-d), written to stay finite for large |d|
        log_p, log_q = -np.logaddexp(0.0, -d), -np.logaddexp(0.0, d)
        total += outcome * log_p + (1 - outcome) * log_q
    return float(total)


def _points(matches: Sequence[Match], names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per match, the flat index i * n + j of (a, b) and of (b, a), with the points each side took."""
    index = {name: i for i, name in enumerate(names)}
    a = np.array([index[m[0]] for m in matches])
    b = np.array([index[m[1]] for m in matches])
    y = np.array([m[2] for m in matches], dtype=float)
    n = len(names)
    return np.concatenate([a * n + b, b * n + a]), np.concatenate([y, 1 - y])


def _points_table(cells: np.ndarray, points: np.ndarray, n: int) -> np.ndarray:
    """W[i, j]: the points model i took from model j (a win is 1, a tie 0.5)."""
    return np.bincount(cells, points, n * n).reshape(n, n)


def _connected(won: np.ndarray) -> bool:
    """Zermelo's condition: every model reaches every other along 'took points from' edges, both ways."""
    n = len(won)
    reach = (won > 0) | np.eye(n, dtype=bool)
    for _ in range(max(1, math.ceil(math.log2(n)))):  # square the reachability matrix: paths of length 2^k
        reach = (reach.astype(int) @ reach.astype(int)) > 0
    return bool(reach.all())


def _fit(won: np.ndarray, tol: float, max_iter: int) -> np.ndarray:
    """Newton's method on the Bradley–Terry log-likelihood in natural units, ratings kept at mean 0.

    With W[i, j] the points i took from j and N = W + W^T the games they played, the gradient for i is
    sum_j (W[i, j] - N[i, j] p_ij) and minus the Hessian is the graph Laplacian of the weights N p (1 - p).
    """
    n = len(won)
    games = won + won.T
    theta = np.zeros(n)
    flat = np.ones((n, n)) / n  # adds the mean-zero direction, where the likelihood is flat
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(theta[None, :] - theta[:, None]))  # p[i, j] = P(i beats j)
        grad = (won - games * p).sum(axis=1)
        weight = games * p * (1 - p)
        laplacian = np.diag(weight.sum(axis=1)) - weight
        step = np.linalg.solve(laplacian + flat, grad)
        theta = theta + step
        theta -= theta.mean()
        if np.abs(step).max() * ELO_SCALE < tol:
            return theta
    raise RuntimeError(f"Bradley–Terry fit did not converge in {max_iter} Newton steps; check the matches")


_NO_MLE = (
    "the maximum-likelihood ratings do not exist: some model (or group) won or lost all its matches "
    "against the rest, so its rating runs off to infinity; add matches, or count some as ties"
)


def fit_bradley_terry(
    matches: Sequence[Match], anchor: float = INITIAL_RATING, tol: float = 1e-6, max_iter: int = 100
) -> dict[str, float]:
    """Maximum-likelihood Bradley–Terry ratings on the Elo scale (400 log10 odds), shifted so their mean is `anchor`.

    Order-free: it fits all matches at once. The maximum exists only if no group of models beat all the others
    without ever dropping a point to them; otherwise a ValueError says so.
    """
    names = players(matches)
    cells, points = _points(matches, names)
    won = _points_table(cells, points, len(names))
    if not _connected(won):
        raise ValueError(_NO_MLE)
    theta = _fit(won, tol, max_iter)
    return {name: float(anchor + ELO_SCALE * t) for name, t in zip(names, theta)}


def bootstrap_ratings(
    matches: Sequence[Match], rounds: int = 200, seed: int = 0, anchor: float = INITIAL_RATING
) -> dict[str, np.ndarray]:
    """Bradley–Terry refitted on `rounds` resamples (with replacement) of the matches: model -> `rounds` ratings."""
    if rounds < 1:
        raise ValueError(f"rounds must be a positive number of resamples, got {rounds}")
    names, m = players(matches), len(matches)
    cells, points = _points(matches, names)
    rng = np.random.default_rng(seed)
    fits = np.empty((rounds, len(names)))
    for r in range(rounds):
        pick = rng.integers(0, m, m)
        both = np.concatenate([pick, pick + m])  # a resampled match brings both of its sides
        won = _points_table(cells[both], points[both], len(names))
        if not _connected(won):
            raise ValueError(f"{_NO_MLE} (bootstrap resample {r}: too few matches to resample)")
        fits[r] = anchor + ELO_SCALE * _fit(won, 1e-6, 100)
    return {name: fits[:, i] for i, name in enumerate(names)}


def confidence_intervals(samples: dict[str, np.ndarray], level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Percentile intervals from bootstrap samples: model -> (low, high) holding `level` of the resampled ratings."""
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.95), got {level}")
    tail = 100 * (1 - level) / 2
    return {name: (float(np.percentile(s, tail)), float(np.percentile(s, 100 - tail))) for name, s in samples.items()}


def simulate_matches(strengths: dict[str, float], n: int, seed: int = 0, tie_strength: float = 0.0) -> list[Match]:
    """`n` matches between random pairs of models, won with the Bradley–Terry probability of the true ratings.

    With `tie_strength` ν > 0 some matches are ties, as in Davidson's model: P(a), P(tie), P(b) are proportional to
    π_a, ν √(π_a π_b), π_b with π = 10^(R / 400); among the matches that are not ties, Bradley–Terry still holds.
    """
    if len(strengths) < 2:
        raise ValueError("simulate_matches needs at least two models with a strength each")
    if n < 1:
        raise ValueError(f"n must be a positive number of matches, got {n}")
    if tie_strength < 0:
        raise ValueError(f"tie_strength is a weight, 0 for no ties; got {tie_strength}")
    rng = random.Random(seed)
    names = list(strengths)
    matches = []
    for _ in range(n):
        a, b = rng.sample(names, 2)
        pi_a, pi_b = 10 ** (strengths[a] / 400), 10 ** (strengths[b] / 400)
        tie = tie_strength * math.sqrt(pi_a * pi_b)
        p_a, p_tie = pi_a / (pi_a + pi_b + tie), tie / (pi_a + pi_b + tie)
        draw = rng.random()
        matches.append((a, b, 1.0 if draw < p_a else 0.5 if draw < p_a + p_tie else 0.0))
    return matches
