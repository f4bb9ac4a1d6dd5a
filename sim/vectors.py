"""Stimulus for the person-classifier testbenches: random vectors and every edge we know.

Edge cases: all codes at −128, 0 or 127; the extremes of the sum-difference; every
dimension at its threshold −1, +0 and +1; sums exactly at ``T`` −1/0/+1; popcounts exactly
at ``K`` −1/0/+1. The rest are random, half uniform over INT8 and half clustered around the
thresholds where decisions flip.
"""

import numpy as np

from ..golden.person_config import N_POS, PersonConfig

__all__ = ["person_vectors", "pooled_vectors"]


def _edge_vectors(cfg: PersonConfig, rng) -> list:
    n = cfg.n_dims
    t = np.asarray(cfg.dim_thresholds, dtype=np.int16)
    out = [np.full(n, v, np.int16) for v in (-128, -1, 0, 1, 127)]
    hi = np.r_[np.full(N_POS, 127), np.full(n - N_POS, -128)]
    out += [hi, -1 - hi]  # the largest and smallest sum-difference
    base = np.clip(t[None, :] + rng.integers(-3, 4, (1, n)), -128, 127)[0]
    for k in range(n):
        for d in (-1, 0, 1):
            v = base.copy()
            v[k] = t[k] + d
            out.append(v)
    # sum-difference exactly at T - 1, T, T + 1
    for target in (cfg.T - 1, cfg.T, cfg.T + 1):
        v = rng.integers(-40, 41, n).astype(np.int16)
        sign = np.r_[np.ones(N_POS), -np.ones(n - N_POS)].astype(np.int16)
        for _ in range(100_000):
            s = int((v * sign).sum())
            if s == target:
                out.append(v.copy())
                break
            k = int(rng.integers(n))
            step = int(np.sign(target - s)) * int(sign[k])
            if -128 <= v[k] + step <= 127:
                v[k] += step
    # popcount exactly at K - 1, K, K + 1 (where reachable)
    for count in (cfg.K - 1, cfg.K, cfg.K + 1):
        if not 0 <= count <= n:
            continue
        on = np.zeros(n, bool)
        on[rng.permutation(n)[:count]] = True
        v = np.empty(n, np.int16)
        for k in range(n):
            if k < N_POS:  # bit is x > t
                lo, hi_ = (t[k] + 1, 127) if on[k] else (-128, t[k])
            else:  # bit is x < t
                lo, hi_ = (-128, t[k] - 1) if on[k] else (t[k], 127)
            # an empty range (a threshold at the end of INT8) leaves the bit as it must be
            v[k] = rng.integers(lo, hi_ + 1) if lo <= hi_ else t[k]
        out.append(v)
    return out


def person_vectors(cfg: PersonConfig, n: int = 10_000, seed: int = 0) -> np.ndarray:
    """``[n, 40]`` int8: all edge vectors first, then random ones."""
    rng = np.random.default_rng(seed)
    rows = _edge_vectors(cfg, rng)
    rest = max(0, n - len(rows))
    uniform = rng.integers(-128, 128, (rest - rest // 2, cfg.n_dims))
    t = np.asarray(cfg.dim_thresholds)
    near = np.clip(t[None, :] + rng.normal(0, 12, (rest // 2, cfg.n_dims)).round(), -128, 127)
    return np.concatenate([np.asarray(rows), uniform, near]).astype(np.int8)


def pooled_vectors(cfg: PersonConfig, n: int, seed: int = 0) -> np.ndarray:
    """``[n, feature_dim]`` int8 pooled features whose selected dims are person vectors."""
    rng = np.random.default_rng(seed)
    q = rng.integers(-128, 128, (n, cfg.feature_dim)).astype(np.int8)
    q[:, list(cfg.dims)] = person_vectors(cfg, n, seed)[:n]
    return q
