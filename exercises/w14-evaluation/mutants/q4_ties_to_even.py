# why: rounds with Python's round, which sends halves to the even multiple of eta
def ladder_accuracy(correct, eta):
    released, shown = [], -math.inf
    for acc in np.asarray(correct, dtype=float).mean(axis=1):
        if acc > shown + eta:
            shown = eta * round(acc / eta)
        released.append(float(shown))
    return released
