# why: resamples the two models' test points independently, so the pairing is lost
def paired_basic_bootstrap(correct_a, correct_b, n_boot=2000, alpha=0.05, seed=0):
    a = np.asarray(correct_a, float)
    b = np.asarray(correct_b, float)
    n, est = len(a), float(a.mean() - b.mean())
    rng = np.random.default_rng(seed)
    rows_a = rng.integers(0, n, size=(n_boot, n))
    rows_b = rng.integers(0, n, size=(n_boot, n))
    deltas = np.sort(a[rows_a].mean(axis=1) - b[rows_b].mean(axis=1))
    k_lo = math.ceil(round(n_boot * alpha / 2, 9))
    k_hi = math.ceil(round(n_boot * (1 - alpha / 2), 9))
    return est, float(2 * est - deltas[k_hi - 1]), float(2 * est - deltas[k_lo - 1])
