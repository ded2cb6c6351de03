"""Binomial intervals and tests for fool rates, in plain Python.

* ``wilson``: the Wilson score interval for k successes in n trials (good
  coverage at small n and near 0 or 1, unlike the Wald interval).
* ``newcombe_difference``: the interval for p1 - p2 of two independent
  proportions from their Wilson intervals (Newcombe 1998, method 10).
* ``two_proportion_p``: two-sided p-value of the pooled two-proportion z-test.
"""

import math

Z95 = 1.959963984540054  # the 97.5th percentile of the standard normal


def wilson(k, n, z=Z95):
    """(low, high) of the Wilson score interval for k of n; None when n = 0."""
    if n <= 0:
        return None
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def newcombe_difference(k1, n1, k2, n2, z=Z95):
    """(difference, low, high) for k1/n1 - k2/n2 (Newcombe's hybrid score
    interval); None when either n is 0."""
    if n1 <= 0 or n2 <= 0:
        return None
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = wilson(k1, n1, z)
    l2, u2 = wilson(k2, n2, z)
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def two_proportion_p(k1, n1, k2, n2):
    """Two-sided p-value of the pooled z-test of k1/n1 = k2/n2; None when it is
    undefined (an empty group, or every trial the same answer)."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (k1 + k2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return None
    z = (k1 / n1 - k2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2))
