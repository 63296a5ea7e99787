# why: counts abstentions as free, so only the errors of accepted predictions cost
def selective_cost(probs, y, c_err, c_abs):
    p = torch.as_tensor(probs, dtype=torch.float64)
    y = torch.as_tensor(y).long()
    conf, pred = p.max(dim=1)
    accept = conf > 1 - c_abs / c_err
    cost = torch.where(accept, (pred != y).double() * c_err, torch.zeros_like(conf))
    return float(cost.mean())
