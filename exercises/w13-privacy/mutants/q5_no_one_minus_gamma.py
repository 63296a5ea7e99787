# why: uses the Poisson-like denominator sqrt(T gamma) and drops the factor (1 - gamma)
def watermark_z(tokens, green, gamma):
    t = [int(v) for v in tokens]
    distinct = set(zip(t[:-1], t[1:], strict=True))
    hits = sum(bool(green[a, b]) for a, b in distinct)
    T = len(distinct)
    return float((hits - gamma * T) / math.sqrt(T * gamma))
