# why: counts a tie as a win for the positive (>= instead of >)
def auroc_pairs(pos, neg):
    pos = torch.as_tensor(pos, dtype=torch.float64)[:, None]
    neg = torch.as_tensor(neg, dtype=torch.float64)[None, :]
    return float((pos >= neg).double().mean())
