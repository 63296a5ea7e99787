# why: counts every disagreement of the two classifiers as discordant, also when both are wrong with different labels
def mcnemar_p(y, pred_a, pred_b):
    truth, a, b_pred = np.asarray(y), np.asarray(pred_a), np.asarray(pred_b)
    differ = a != b_pred
    b = int(np.sum(differ & (a == truth)))
    c = int(np.sum(differ)) - b
    if b + c == 0:
        return 1.0
    return float(chi2.sf((abs(b - c) - 1) ** 2 / (b + c), df=1))
