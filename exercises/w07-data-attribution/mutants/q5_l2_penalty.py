# why: uses the chapter's L2 penalty gradient 2 * mu * x instead of mu * sign(x)
def feature_vis_l1(model, target, mu, steps, lr):
    x = torch.full((len(target), 64), 0.5)
    for _ in range(steps):
        xv = x.clone().requires_grad_(True)
        z = model(xv)
        (g,) = torch.autograd.grad(z[torch.arange(len(target)), target].sum(), xv)
        x = torch.clamp(x + lr * (g - 2 * mu * x), 0.0, 1.0)
    return x.detach()
