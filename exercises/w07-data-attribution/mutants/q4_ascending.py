# why: sorts ascending, so the least suspicious points come first
def average_precision(scores, is_flipped):
    order = np.argsort(np.asarray(scores), kind="stable")
    hits = np.asarray(is_flipped, dtype=bool)[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(precision[hits].mean())
