# why: ignores the b = c = 0 rule and divides by zero when the models never disagree
def mcnemar_from_predictions(y, pred_a, pred_b):
    truth = np.asarray(y)
    right_a, right_b = np.asarray(pred_a) == truth, np.asarray(pred_b) == truth
    b = int(np.sum(right_a & ~right_b))
    c = int(np.sum(right_b & ~right_a))
    stat = (abs(b - c) - 1) ** 2 / (b + c)
    return b, c, float(stat), float(chi2.sf(stat, 1))
