# why: uses log2, so all three terms come out in bits instead of the nats the question asks for
def entropy_decomposition(member_probs):
    p = np.asarray(member_probs, dtype=np.float64)

    def plogp_sum(q):
        return -(q * np.log2(np.where(q > 0, q, 1.0))).sum(axis=-1)

    total = plogp_sum(p.mean(axis=0))
    aleatoric = plogp_sum(p).mean(axis=0)
    return total, aleatoric, total - aleatoric
