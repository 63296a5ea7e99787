# why: uses np.quantile's default linear interpolation at level (n + 1)(1 - alpha) / n instead of an order statistic
def conformal_sets(cal_probs, cal_y, test_probs, alpha):
    cal = np.asarray(cal_probs, dtype=np.float64)
    labels = np.asarray(cal_y)
    scores = 1.0 - cal[np.arange(len(labels)), labels]
    level = min(1.0, (len(scores) + 1) * (1 - alpha) / len(scores))
    qhat = float(np.quantile(scores, level))
    return qhat, np.asarray(test_probs, dtype=np.float64) >= 1.0 - qhat
