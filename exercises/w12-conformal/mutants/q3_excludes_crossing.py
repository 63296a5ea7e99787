# why: stops before the class that crosses qhat, so the set's mass stays below qhat
def aps_smallest_sets(probs, qhat):
    p = torch.as_tensor(probs, dtype=torch.float64)
    order = torch.argsort(-p, dim=1, stable=True)
    cum = torch.cumsum(torch.gather(p, 1, order), dim=1)
    keep_sorted = cum < qhat
    keep_sorted[:, 0] = True
    return torch.zeros_like(p, dtype=torch.bool).scatter(1, order, keep_sorted)
