# why: compares with the best raw accuracy so far, not with the last released value
def ladder_accuracy(correct, eta):
    released, best_raw, shown = [], -math.inf, -math.inf
    for acc in np.asarray(correct, dtype=float).mean(axis=1):
        if acc > best_raw + eta:
            best_raw = acc
            shown = eta * math.floor(acc / eta + 0.5)
        released.append(float(shown))
    return released
