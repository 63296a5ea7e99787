# why: divides by the 0-based rank + 2 (an off-by-one in the precision's denominator)
def average_precision(scores, is_flipped):
    order = np.argsort(-np.asarray(scores), kind="stable")
    hits = np.asarray(is_flipped, dtype=bool)[order]
    precision = np.cumsum(hits) / np.arange(2, len(hits) + 2)
    return float(precision[hits].mean())
