# why: ascends the softmax probability instead of the logit
def feature_vis_l1(model, target, mu, steps, lr):
    x = torch.full((len(target), 64), 0.5)
    for _ in range(steps):
        xv = x.clone().requires_grad_(True)
        p = torch.softmax(model(xv), 1)
        (g,) = torch.autograd.grad(p[torch.arange(len(target)), target].sum(), xv)
        x = torch.clamp(x + lr * (g - mu * torch.sign(x)), 0.0, 1.0)
    return x.detach()
