# why: drops the finite-sample correction and takes the ceil(n (1 - alpha))-th smallest score, which under-covers
def conformal_sets(cal_probs, cal_y, test_probs, alpha):
    cal = np.asarray(cal_probs, dtype=np.float64)
    labels = np.asarray(cal_y)
    scores = np.sort(1.0 - cal[np.arange(len(labels)), labels])
    k = math.ceil(len(scores) * (1 - alpha))
    qhat = float(scores[k - 1])
    return qhat, np.asarray(test_probs, dtype=np.float64) >= 1.0 - qhat
