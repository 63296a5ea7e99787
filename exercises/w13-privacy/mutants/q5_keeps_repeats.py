# why: scores every position, so repeated bigrams are counted again
def watermark_z(tokens, green, gamma):
    t = np.asarray(tokens)
    hits = int(green[t[:-1], t[1:]].sum())
    T = len(t) - 1
    return float((hits - gamma * T) / math.sqrt(T * gamma * (1 - gamma)))
