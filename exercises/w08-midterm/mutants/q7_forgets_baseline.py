# why: multiplies the averaged gradient by x instead of by x - baseline
def integrated_gradients(f, x, baseline, m):
    alphas = (torch.arange(m, dtype=x.dtype) + 0.5) / m
    pts = (baseline + alphas[:, None] * (x - baseline)).detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(pts).sum(), pts)
    return x * g.mean(dim=0)
