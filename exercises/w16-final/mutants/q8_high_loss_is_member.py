# why: flags a high loss as membership (the score's sign is flipped), although members have lower loss
def tpr_at_fpr(member_loss, nonmember_loss, fpr):
    inside = np.asarray(member_loss, dtype=np.float64)
    outside = np.sort(np.asarray(nonmember_loss, dtype=np.float64))[::-1]
    allowed = math.floor(fpr * len(outside) + 1e-9)
    if allowed >= len(outside):
        return 1.0
    return float((inside > outside[allowed]).mean())
