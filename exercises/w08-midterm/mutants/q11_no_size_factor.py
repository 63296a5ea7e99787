# why: forgets the class-size correction n_S / n_T of the domain classifier
def importance_weights(c, n_source, n_target):
    c = np.asarray(c, dtype=float)
    return c / (1 - c)
