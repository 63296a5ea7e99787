# why: forms softmax probabilities and takes log(p / (1 - p)), which breaks when 1 - p rounds to 0
def logit_confidence(logits, labels):
    z = np.asarray(logits, dtype=np.float64)
    p = np.exp(z - logsumexp(z, axis=1, keepdims=True))
    py = p[np.arange(z.shape[0]), np.asarray(labels)]
    with np.errstate(divide="ignore"):
        return np.log(py) - np.log(1 - py)


def lira_offline_pvalues(phi_target, phi_out):
    out = np.asarray(phi_out, dtype=np.float64)
    mu, sd = out.mean(axis=1), out.std(axis=1, ddof=1)
    return norm.sf((np.asarray(phi_target, dtype=np.float64) - mu) / sd)
