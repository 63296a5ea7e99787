# why: plugs in the point estimate n_A / n instead of a lower confidence bound
def certify_hoeffding(counts, n, sigma, alpha):
    counts = np.asarray(counts)
    c_a = int(np.argmax(counts))
    p_hat = counts[c_a] / n
    if p_hat <= 0.5:
        return -1, 0.0
    return c_a, float(sigma * norm.ppf(min(p_hat, 1 - 1e-12)))
