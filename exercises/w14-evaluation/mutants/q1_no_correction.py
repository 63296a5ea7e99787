# why: drops the continuity correction and uses (b - c)^2 / (b + c)
def mcnemar_from_predictions(y, pred_a, pred_b):
    truth = np.asarray(y)
    right_a, right_b = np.asarray(pred_a) == truth, np.asarray(pred_b) == truth
    b = int(np.sum(right_a & ~right_b))
    c = int(np.sum(right_b & ~right_a))
    if b + c == 0:
        return b, c, 0.0, 1.0
    stat = (b - c) ** 2 / (b + c)
    return b, c, float(stat), float(chi2.sf(stat, 1))
