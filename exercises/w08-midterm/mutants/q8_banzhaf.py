# why: weights every coalition equally, 1 / 2^(p-1) (the Banzhaf value, not Shapley's)
def shapley_values(game, p):
    game = np.asarray(game, dtype=float)
    phi = np.zeros(p)
    for s in range(2**p):
        for j in range(p):
            if not s >> j & 1:
                phi[j] += (game[s | 1 << j] - game[s]) / 2 ** (p - 1)
    return phi
