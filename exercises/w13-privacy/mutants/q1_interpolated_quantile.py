# why: takes tau as np.quantile of the non-member losses at alpha (interpolated), not the k-th value
def example_losses(probs, labels):
    table = np.asarray(probs, dtype=np.float64)
    picked = table[np.arange(table.shape[0]), np.asarray(labels)]
    return -np.log(np.maximum(picked, 1e-12))


def tpr_at_fpr(member_losses, nonmember_losses, alpha):
    cut = float(np.quantile(np.asarray(nonmember_losses, dtype=np.float64), alpha))
    insiders = np.asarray(member_losses, dtype=np.float64)
    return float(np.mean(insiders < cut)), cut
