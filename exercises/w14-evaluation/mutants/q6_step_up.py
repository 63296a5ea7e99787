# why: steps up (Hochberg): rejects up to the largest j that passes, not the first fail
def holm_rejections(p_values, alpha=0.05):
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    passing = [j for j in range(m) if p[order[j]] <= alpha / (m - j)]
    reject = np.zeros(m, dtype=bool)
    if passing:
        reject[order[: passing[-1] + 1]] = True
    return reject
