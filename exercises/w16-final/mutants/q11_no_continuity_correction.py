# why: leaves out the continuity correction and uses (b - c)^2 / (b + c)
def mcnemar_p(y, pred_a, pred_b):
    truth = np.asarray(y)
    right_a = np.asarray(pred_a) == truth
    right_b = np.asarray(pred_b) == truth
    b = int(np.sum(right_a & ~right_b))
    c = int(np.sum(~right_a & right_b))
    if b + c == 0:
        return 1.0
    return float(chi2.sf((b - c) ** 2 / (b + c), df=1))
