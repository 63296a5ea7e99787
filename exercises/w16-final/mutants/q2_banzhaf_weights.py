# why: averages the marginal contributions over all coalitions with equal weight 1/2^(n-1) (the Banzhaf value), not the Shapley weights
def shapley_values(v):
    v = np.asarray(v, dtype=np.float64)
    n = len(v).bit_length() - 1
    phi = np.zeros(n, dtype=np.float64)
    for mask in range(len(v)):
        for i in range(n):
            if not (mask >> i) & 1:
                phi[i] += (v[mask | (1 << i)] - v[mask]) / 2 ** (n - 1)
    return phi
