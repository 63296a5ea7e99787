# why: uses the log-probability log p_y as the statistic instead of the log-odds
def logit_confidence(logits, labels):
    z = np.asarray(logits, dtype=np.float64)
    own = z[np.arange(z.shape[0]), np.asarray(labels)]
    return own - logsumexp(z, axis=1)


def lira_offline_pvalues(phi_target, phi_out):
    out = np.asarray(phi_out, dtype=np.float64)
    mu, sd = out.mean(axis=1), out.std(axis=1, ddof=1)
    return norm.sf((np.asarray(phi_target, dtype=np.float64) - mu) / sd)
