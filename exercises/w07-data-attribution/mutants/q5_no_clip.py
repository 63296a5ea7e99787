# why: forgets to clip to [0, 1] after each step
def feature_vis_l1(model, target, mu, steps, lr):
    x = torch.full((len(target), 64), 0.5)
    for _ in range(steps):
        xv = x.clone().requires_grad_(True)
        z = model(xv)
        (g,) = torch.autograd.grad(z[torch.arange(len(target)), target].sum(), xv)
        x = x + lr * (g - mu * torch.sign(x))
    return x.detach()
