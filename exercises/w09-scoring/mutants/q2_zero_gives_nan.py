# why: computes p * log2(p) directly, so a zero probability gives 0 * -inf = NaN
def entropy_bits(probs):
    p = torch.as_tensor(probs, dtype=torch.float64)
    return -(p * torch.log2(p)).sum(dim=1)
