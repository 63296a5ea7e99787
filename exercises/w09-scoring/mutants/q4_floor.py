# why: rounds the number of accepted predictions down instead of up
def selective_risk(confidence, correct, coverage):
    c = torch.as_tensor(confidence, dtype=torch.float64)
    ok = torch.as_tensor(correct).bool()
    m = max(1, math.floor(coverage * len(c)))
    order = torch.argsort(-c, stable=True)[:m]
    return float((~ok[order]).double().mean())
