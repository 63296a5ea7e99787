# why: scores the loss of the predicted class (-log max p) instead of the true label
def example_losses(probs, labels):
    table = np.asarray(probs, dtype=np.float64)
    return -np.log(np.maximum(table.max(axis=1), 1e-12))


def tpr_at_fpr(member_losses, nonmember_losses, alpha):
    outsiders = np.sort(np.asarray(nonmember_losses, dtype=np.float64))
    rank = math.floor(round(alpha * outsiders.size, 9)) + 1
    cut = float(outsiders[rank - 1])
    insiders = np.asarray(member_losses, dtype=np.float64)
    return float(np.mean(insiders < cut)), cut
