# why: averages the bins' gaps with equal weight instead of weighting each bin by its share of the samples
def ece_and_mce(probs, y, n_bins=10):
    p = np.asarray(probs, dtype=np.float64)
    hit = (p.argmax(axis=1) == np.asarray(y)).astype(np.float64)
    top = p.max(axis=1)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, top, side="left") - 1, 0, n_bins - 1)
    gaps = [abs(hit[which == b].mean() - top[which == b].mean())
            for b in np.unique(which)]
    return float(np.mean(gaps)), float(max(gaps))
