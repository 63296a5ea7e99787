# why: forgets the ReLU, so negative evidence stays in the map
def hirescam(features, head, target):
    A = features.detach().clone().requires_grad_(True)
    z = head(A)
    (g,) = torch.autograd.grad(z[torch.arange(len(A)), target].sum(), A)
    return (g * A).sum(1).detach()
