# why: uses np.std's default ddof=0 instead of the sample standard deviation
def logit_confidence(logits, labels):
    z = np.array(logits, dtype=np.float64)
    rows = np.arange(z.shape[0])
    y = np.asarray(labels)
    own = z[rows, y].copy()
    z[rows, y] = -np.inf
    return own - logsumexp(z, axis=1)


def lira_offline_pvalues(phi_target, phi_out):
    out = np.asarray(phi_out, dtype=np.float64)
    mu, sd = out.mean(axis=1), out.std(axis=1)
    return norm.sf((np.asarray(phi_target, dtype=np.float64) - mu) / sd)
