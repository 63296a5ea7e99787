# why: resamples the two models' test points independently, so the pairing is lost
def paired_bootstrap_ci(correct_a, correct_b, n_boot=2000, alpha=0.05, seed=0):
    a = np.asarray(correct_a, float)
    b = np.asarray(correct_b, float)
    n = len(a)
    rng = np.random.default_rng(seed)
    rows_a = rng.integers(0, n, size=(n_boot, n))
    rows_b = rng.integers(0, n, size=(n_boot, n))
    deltas = np.sort(a[rows_a].mean(axis=1) - b[rows_b].mean(axis=1))
    k_lo = math.ceil(round(n_boot * alpha / 2, 9))
    k_hi = math.ceil(round(n_boot * (1 - alpha / 2), 9))
    return float(a.mean() - b.mean()), float(deltas[k_lo - 1]), float(deltas[k_hi - 1])
