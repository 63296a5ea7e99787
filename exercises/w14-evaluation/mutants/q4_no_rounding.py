# why: releases the raw accuracy instead of rounding it to a multiple of eta
def ladder_accuracy(correct, eta):
    released, last = [], -math.inf
    for acc in np.asarray(correct, dtype=float).mean(axis=1):
        if acc > last + eta:
            last = float(acc)
        released.append(float(last))
    return released
