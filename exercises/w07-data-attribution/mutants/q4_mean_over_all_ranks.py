# why: averages the precision over every rank instead of the ranks of flipped points
def average_precision(scores, is_flipped):
    order = np.argsort(-np.asarray(scores), kind="stable")
    hits = np.asarray(is_flipped, dtype=bool)[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision.mean())
