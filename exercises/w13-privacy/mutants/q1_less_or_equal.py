# why: flags losses <= tau, so ties at the threshold push the false-positive rate past alpha
def example_losses(probs, labels):
    table = np.asarray(probs, dtype=np.float64)
    picked = table[np.arange(table.shape[0]), np.asarray(labels)]
    return -np.log(np.maximum(picked, 1e-12))


def tpr_at_fpr(member_losses, nonmember_losses, alpha):
    outsiders = np.sort(np.asarray(nonmember_losses, dtype=np.float64))
    rank = math.floor(round(alpha * outsiders.size, 9)) + 1
    cut = float(outsiders[rank - 1])
    insiders = np.asarray(member_losses, dtype=np.float64)
    return float(np.mean(insiders <= cut)), cut
