# why: releases the rounded best accuracy so far, without the "better by eta" test
def ladder_accuracy(correct, eta):
    released, shown = [], -math.inf
    for acc in np.asarray(correct, dtype=float).mean(axis=1):
        shown = max(shown, eta * math.floor(acc / eta + 0.5))
        released.append(float(shown))
    return released
