# why: drops the factor 2 under the square root of Hoeffding's bound
def certify_hoeffding(counts, n, sigma, alpha):
    counts = np.asarray(counts)
    c_a = int(np.argmax(counts))
    p_low = counts[c_a] / n - np.sqrt(np.log(1 / alpha) / n)
    if p_low <= 0.5:
        return -1, 0.0
    return c_a, float(sigma * norm.ppf(p_low))
