# why: uses the natural logarithm, so the entropy is in nats, not bits
def entropy_bits(probs):
    p = torch.as_tensor(probs, dtype=torch.float64)
    safe = torch.where(p > 0, p, torch.ones_like(p))
    return -(p * torch.log(safe)).sum(dim=1)
