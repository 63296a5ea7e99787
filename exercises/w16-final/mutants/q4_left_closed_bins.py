# why: uses numpy's left-closed bins [lo, hi) (np.digitize), so a confidence on an edge lands one bin too high
def ece_and_mce(probs, y, n_bins=10):
    p = np.asarray(probs, dtype=np.float64)
    hit = (p.argmax(axis=1) == np.asarray(y)).astype(np.float64)
    top = p.max(axis=1)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(top, edges) - 1, 0, n_bins - 1)
    ece, mce = 0.0, 0.0
    for b in np.unique(which):
        members = which == b
        gap = abs(hit[members].mean() - top[members].mean())
        ece += members.mean() * gap
        mce = max(mce, gap)
    return float(ece), float(mce)
