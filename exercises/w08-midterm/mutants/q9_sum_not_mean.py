# why: sums the gradients over positions instead of averaging them (forgets the 1 / HW)
def grad_cam(features, head, x, c):
    A = features(x)
    (g,) = torch.autograd.grad(head(A)[0, c], A)
    alpha = g[0].sum(dim=(1, 2))
    return torch.relu((alpha[:, None, None] * A[0]).sum(0)).detach()
