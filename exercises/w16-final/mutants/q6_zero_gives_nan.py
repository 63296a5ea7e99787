# why: computes p * log p directly, so a probability of exactly 0 gives 0 * -inf = NaN
def entropy_decomposition(member_probs):
    p = np.asarray(member_probs, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        total = -(p.mean(axis=0) * np.log(p.mean(axis=0))).sum(axis=-1)
        aleatoric = -(p * np.log(p)).sum(axis=-1).mean(axis=0)
    return total, aleatoric, total - aleatoric
