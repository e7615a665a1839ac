"""Test-only references for NIQE/BRISQUE, written from the LIVE MATLAB scripts' formulas.

Loops and scipy.ndimage instead of rainkit's batched torch code: ``computequality.m`` (NIQE),
``brisque_feature.m`` (BRISQUE), MATLAB ``imresize`` (bicubic, antialiasing) and ``nancov``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from scipy.special import gamma

GAM = np.array([0.2 + 0.001 * k for k in range(9801)])  # 0.2:0.001:10


def rgb2gray_uint8(rgb: np.ndarray) -> np.ndarray:
    """MATLAB rgb2gray of a uint8 image: coefficients from inv of the NTSC matrix, round."""
    t = np.linalg.inv(np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647],
                                [1.0, -1.106, 1.703]]))
    grey = rgb.astype(np.float64) @ t[0]
    return np.floor(grey + 0.5)


def _cubic(x: float) -> float:
    a = abs(x)
    if a <= 1:
        return 1.5 * a**3 - 2.5 * a**2 + 1
    if a <= 2:
        return -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2
    return 0.0


def _resize_1d(v: np.ndarray) -> np.ndarray:
    n = len(v)
    out = np.empty(math.ceil(n / 2))
    for i in range(len(out)):
        u = (i + 1) * 2 - 0.5  # x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - 4)
        idx = [left + p for p in range(10)]
        w = np.array([0.5 * _cubic(0.5 * (u - j)) for j in idx])
        w /= w.sum()
        mirrored = [(j - 1) % (2 * n) for j in idx]
        mirrored = [j if j < n else 2 * n - 1 - j for j in mirrored]
        out[i] = float(np.dot(w, v[mirrored]))
    return out


def imresize_half(img: np.ndarray) -> np.ndarray:
    rows = np.stack([_resize_1d(img[:, c]) for c in range(img.shape[1])], axis=1)
    return np.stack([_resize_1d(rows[r]) for r in range(rows.shape[0])], axis=0)


def mscn(img: np.ndarray, mode: str) -> np.ndarray:
    x = np.arange(-3, 4)
    win = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * (7 / 6) ** 2))
    win /= win.sum()
    mu = ndimage.correlate(img, win, mode=mode, cval=0.0)
    sigma = np.sqrt(np.abs(ndimage.correlate(img * img, win, mode=mode, cval=0.0) - mu * mu))
    out = (img - mu) / (sigma + 1)
    flat = (ndimage.maximum_filter(img, 7, mode=mode, cval=0.0)
            == ndimage.minimum_filter(img, 7, mode=mode, cval=0.0))
    out[flat] = 0.0  # exact arithmetic: a window of equal pixels has no contrast
    return out


def aggd(vec: np.ndarray) -> tuple[float, float, float]:
    r_gam = gamma(2 / GAM) ** 2 / (gamma(1 / GAM) * gamma(3 / GAM))
    left = np.sqrt(np.mean(vec[vec < 0] ** 2))
    right = np.sqrt(np.mean(vec[vec > 0] ** 2))
    g = left / right
    rhat = np.mean(np.abs(vec)) ** 2 / np.mean(vec**2)
    rnorm = rhat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    return float(GAM[np.argmin((r_gam - rnorm) ** 2)]), float(left), float(right)


def ggd(vec: np.ndarray) -> tuple[float, float]:
    r_gam = gamma(1 / GAM) * gamma(3 / GAM) / gamma(2 / GAM) ** 2
    sigma_sq = np.mean(vec**2)
    rho = sigma_sq / np.mean(np.abs(vec)) ** 2
    return float(GAM[np.argmin(np.abs(rho - r_gam))]), float(sigma_sq)


SHIFTS = [(0, 1), (1, 0), (1, 1), (-1, 1)]


def niqe_block(block: np.ndarray) -> list[float]:
    alpha, bl, br = aggd(block.ravel())
    c = math.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    feat = [alpha, (bl * c + br * c) / 2]
    for s in SHIFTS:
        alpha, bl, br = aggd((block * np.roll(block, s, axis=(0, 1))).ravel())
        c = math.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
        feat += [alpha, (br * c - bl * c) * gamma(2 / alpha) / gamma(1 / alpha), bl * c, br * c]
    return feat


def niqe(grey255: np.ndarray, mu_pris: np.ndarray, cov_pris: np.ndarray) -> float:
    nh, nw = grey255.shape[0] // 96, grey255.shape[1] // 96
    img = grey255[: nh * 96, : nw * 96].astype(np.float64)
    feats = []
    for scale in (1, 2):
        m = mscn(img, "nearest")
        b = 96 // scale
        feats.append([niqe_block(m[i * b:(i + 1) * b, j * b:(j + 1) * b])
                      for j in range(nw) for i in range(nh)])
        img = imresize_half(img)
    f = np.concatenate([np.array(feats[0]), np.array(feats[1])], axis=1)
    mu = np.nanmean(f, axis=0)
    rows = f[~np.isnan(f).any(axis=1)]
    cov = np.cov(rows, rowvar=False)
    d = mu_pris - mu
    return float(np.sqrt(d @ np.linalg.pinv((cov_pris + cov) / 2) @ d))


def brisque_features(grey255: np.ndarray) -> np.ndarray:
    img = grey255.astype(np.float64)
    feat: list[float] = []
    for _ in range(2):
        m = mscn(img, "constant")
        feat += list(ggd(m.ravel()))
        for s in SHIFTS:
            alpha, left, right = aggd((m * np.roll(m, s, axis=(0, 1))).ravel())
            const = math.sqrt(gamma(1 / alpha)) / math.sqrt(gamma(3 / alpha))
            mean = (right - left) * (gamma(2 / alpha) / gamma(1 / alpha)) * const
            feat += [alpha, mean, left**2, right**2]
        img = imresize_half(img)
    return np.array(feat)
