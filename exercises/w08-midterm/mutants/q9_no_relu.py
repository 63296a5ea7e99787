# why: forgets the ReLU, so negative evidence for the class stays in the map
def grad_cam(features, head, x, c):
    A = features(x)
    (g,) = torch.autograd.grad(head(A)[0, c], A)
    alpha = g[0].mean(dim=(1, 2))
    return (alpha[:, None, None] * A[0]).sum(0).detach()
