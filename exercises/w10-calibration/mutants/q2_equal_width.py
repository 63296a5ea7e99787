# why: uses equal-width bins (the ordinary MCE) instead of equal-mass bins
def equal_mass_mce(probs, y, n_bins=15):
    p = torch.as_tensor(probs, dtype=torch.float64)
    y = torch.as_tensor(y).long()
    conf, pred = p.max(dim=1)
    correct = (pred == y).double()
    b = torch.clamp((conf * n_bins).long(), max=n_bins - 1)
    gaps = [float((conf[b == k].mean() - correct[b == k].mean()).abs())
            for k in range(n_bins) if (b == k).any()]
    return max(gaps)
