# why: sorts in increasing order and so keeps the least confident predictions
def selective_risk(confidence, correct, coverage):
    c = torch.as_tensor(confidence, dtype=torch.float64)
    ok = torch.as_tensor(correct).bool()
    m = math.ceil(coverage * len(c))
    order = torch.argsort(c, stable=True)[:m]
    return float((~ok[order]).double().mean())
