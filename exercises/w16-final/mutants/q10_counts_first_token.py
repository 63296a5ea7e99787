# why: takes T as the sequence length L, counting the first token that has no predecessor and cannot be green
def watermark_z(tokens, green, gamma):
    seq = np.asarray(tokens, dtype=np.int64)
    hits = np.asarray(green, dtype=bool)[seq[:-1], seq[1:]]
    n = len(seq)
    return float((hits.sum() - gamma * n) / math.sqrt(n * gamma * (1.0 - gamma)))
