# why: divides by every disagreement in prediction, also where both models are wrong
def mcnemar_from_predictions(y, pred_a, pred_b):
    truth, pa, pb = np.asarray(y), np.asarray(pred_a), np.asarray(pred_b)
    b = int(np.sum((pa == truth) & (pb != truth)))
    c = int(np.sum((pb == truth) & (pa != truth)))
    differ = int(np.sum(pa != pb))
    if differ == 0:
        return b, c, 0.0, 1.0
    stat = (abs(b - c) - 1) ** 2 / differ
    return b, c, float(stat), float(chi2.sf(stat, 1))
