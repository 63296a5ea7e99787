# why: averages over the channels instead of summing them
def hirescam(features, head, target):
    A = features.detach().clone().requires_grad_(True)
    z = head(A)
    (g,) = torch.autograd.grad(z[torch.arange(len(A)), target].sum(), A)
    return torch.relu((g * A).mean(1)).detach()
