# why: sums the size-weighted gaps (an equal-mass ECE) instead of taking the maximum
def equal_mass_mce(probs, y, n_bins=15):
    p = torch.as_tensor(probs, dtype=torch.float64)
    y = torch.as_tensor(y).long()
    conf, pred = p.max(dim=1)
    correct = (pred == y).double()
    order = torch.argsort(conf, stable=True)
    total = 0.0
    for idx in torch.tensor_split(order, n_bins):
        total += float((conf[idx] - correct[idx]).sum().abs())
    return total / len(conf)
