# why: computes the difference the other way round, accuracy of B minus accuracy of A
def paired_basic_bootstrap(correct_a, correct_b, n_boot=2000, alpha=0.05, seed=0):
    a = np.asarray(correct_a, float)
    b = np.asarray(correct_b, float)
    n, est = len(a), float(b.mean() - a.mean())
    rows = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    deltas = np.sort(b[rows].mean(axis=1) - a[rows].mean(axis=1))
    k_lo = math.ceil(round(n_boot * alpha / 2, 9))
    k_hi = math.ceil(round(n_boot * (1 - alpha / 2), 9))
    return est, float(2 * est - deltas[k_hi - 1]), float(2 * est - deltas[k_lo - 1])
