# why: keeps testing after the first failure instead of stopping there
def holm_rejections(p_values, alpha=0.05):
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    reject = np.zeros(m, dtype=bool)
    for j, i in enumerate(np.argsort(p, kind="stable")):
        reject[i] = p[i] <= alpha / (m - j)
    return reject
