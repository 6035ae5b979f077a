#!/usr/bin/python3
"""Fits the two polynomials of nn_erff (core/src/nn.c) and prints them as C arrays, with
the largest error of the resulting float erf against math.erf (numpy only).

    erf(z) = z P(z^2)                    for 0 <= z < SPLIT
    erf(z) = 1 - e^(-z^2) Q(t)           for SPLIT <= z <= 4, t = (z - MID) / HALF in [-1, 1]

Least squares in double at 4000 Chebyshev nodes of each interval (Q relative to its
value), coefficients rounded to float; the error is measured by evaluating the formula
in float32 as the C code does (Horner, no fused multiply-add), with e^x exact (nn_expf's
own error, 1.25 ulp, is checked by tests/test_nn.c).

    tools/fit_erf.py
"""
import math

import numpy as np

SPLIT, TOP, P_DEGREE, Q_DEGREE = 0.8, 4.0, 6, 11
MID, HALF = (SPLIT + TOP) / 2, (TOP - SPLIT) / 2
f32 = np.float32


def chebyshev_nodes(a, b, n):
    k = np.arange(n)
    return (a + b) / 2 + (b - a) / 2 * np.cos(np.pi * (k + 0.5) / n)


def least_squares(var, values, weight, degree):
    """Coefficients c[0..degree] of Σ c_k var^k closest to values (weighted)."""
    V = np.vander(var, degree + 1, increasing=True) * weight[:, None]
    return np.linalg.lstsq(V, values * weight, rcond=None)[0].astype(f32)


def horner(c, v):
    r = np.full_like(v, c[-1])
    for k in c[-2::-1]:
        r = (r * v + k).astype(f32)
    return r


def erf_f32(z, P, Q):
    z = z.astype(f32)
    small = (z * horner(P, (z * z).astype(f32))).astype(f32)
    zc = np.minimum(z, f32(TOP))
    t = ((zc - f32(MID)) * f32(1 / HALF)).astype(f32)
    e = np.exp(-(zc * zc).astype(f32).astype(np.float64)).astype(f32)
    large = (f32(1) - (e * horner(Q, t)).astype(f32)).astype(f32)
    return np.where(z < f32(SPLIT), small, large)


def main():
    erf, erfc = np.vectorize(math.erf), np.vectorize(math.erfc)
    za = chebyshev_nodes(0, SPLIT, 4000)
    P = least_squares(za ** 2, erf(za) / za, np.ones_like(za), P_DEGREE)
    zb = chebyshev_nodes(SPLIT, TOP, 4000)
    qb = erfc(zb) * np.exp(zb ** 2)
    Q = least_squares((zb - MID) / HALF, qb, 1 / qb, Q_DEGREE)
    z = np.linspace(0, 6, 3000001).astype(f32)
    exact = erf(z.astype(np.float64))
    err = np.abs(erf_f32(z, P, Q).astype(np.float64) - exact)
    ulps = err / np.spacing(exact.astype(f32)).astype(np.float64)
    fmt = lambda c: ", ".join("%.9gf" % v for v in c)
    print("P[] = {%s};" % fmt(P))
    print("Q[] = {%s};" % fmt(Q))
    print("split %g, t = (z - %g) / %g; largest error %.3g (%.2f ulp) at z = %.5f" % (
        SPLIT, MID, HALF, err.max(), ulps.max(), z[ulps.argmax()]))


if __name__ == "__main__":
    main()
