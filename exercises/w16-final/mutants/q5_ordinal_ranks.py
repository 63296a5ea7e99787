# why: ranks the scores by sorting without averaging the ranks of ties, so a tie counts 0 or 1 depending on the order
def auroc_from_ranks(scores, labels):
    s = np.asarray(scores, dtype=np.float64)
    pos = np.asarray(labels).astype(bool)
    ranks = np.empty(len(s))
    ranks[np.argsort(s, kind="stable")] = np.arange(1, len(s) + 1)
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
