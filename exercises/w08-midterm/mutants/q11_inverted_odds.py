# why: takes the odds the wrong way round, (1 - c) / c, which is the source-over-target ratio
def importance_weights(c, n_source, n_target):
    c = np.asarray(c, dtype=float)
    return (n_source / n_target) * (1 - c) / c
