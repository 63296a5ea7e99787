# why: averages the gradient over space first, which is Grad-CAM, not HiResCAM
def hirescam(features, head, target):
    A = features.detach().clone().requires_grad_(True)
    z = head(A)
    (g,) = torch.autograd.grad(z[torch.arange(len(A)), target].sum(), A)
    alpha = g.mean(dim=(2, 3), keepdim=True)
    return torch.relu((alpha * A).sum(1)).detach()
