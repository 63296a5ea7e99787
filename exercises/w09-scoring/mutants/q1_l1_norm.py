# why: uses the L1 norm (which is 1 for probabilities) instead of the Euclidean norm
def spherical_score(probs, y):
    probs = torch.as_tensor(probs, dtype=torch.float64)
    y = torch.as_tensor(y).long()
    p_y = probs[torch.arange(probs.shape[0]), y]
    return float((-p_y / probs.abs().sum(dim=1)).mean())
