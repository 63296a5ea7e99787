# why: takes the log of the softmax probabilities, which underflow to 0 for large logits and give an infinite NLL
def nll_and_brier(logits, y):
    z = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(y).long()
    p = torch.softmax(z, dim=1)
    onehot = torch.nn.functional.one_hot(y, z.shape[1]).double()
    nll = -torch.log(p[torch.arange(len(y)), y]).mean()
    return float(nll), float(((p - onehot) ** 2).sum(dim=1).mean())
