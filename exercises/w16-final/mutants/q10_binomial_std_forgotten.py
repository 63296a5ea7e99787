# why: divides by sqrt(T gamma), the Poisson approximation, instead of the binomial sqrt(T gamma (1 - gamma))
def watermark_z(tokens, green, gamma):
    seq = np.asarray(tokens, dtype=np.int64)
    hits = np.asarray(green, dtype=bool)[seq[:-1], seq[1:]]
    n = hits.size
    return float((hits.sum() - gamma * n) / math.sqrt(n * gamma))
