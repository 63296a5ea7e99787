# why: scores each distinct current token once, instead of each distinct bigram
def watermark_z(tokens, green, gamma):
    t = [int(v) for v in tokens]
    seen, hits = set(), 0
    for prev, cur in zip(t[:-1], t[1:], strict=True):
        if cur in seen:
            continue
        seen.add(cur)
        hits += bool(green[prev, cur])
    T = len(seen)
    return float((hits - gamma * T) / math.sqrt(T * gamma * (1 - gamma)))
