# why: uses the single Bonferroni threshold alpha / m for every hypothesis
def holm_rejections(p_values, alpha=0.05):
    p = np.asarray(p_values, dtype=float)
    return p <= alpha / len(p)
