# why: uses trapezoid weights (1, 2, 2, ..., 2, 1) * h/2 instead of Simpson's
def ig_simpson(model, x, target, baseline, steps):
    x = x.detach()
    b = baseline.to(x.dtype).expand_as(x)
    h = 1.0 / (steps - 1)
    w = torch.ones(steps, dtype=x.dtype) * h
    w[0] = w[-1] = h / 2
    alphas = torch.linspace(0, 1, steps, dtype=x.dtype)
    path = b[None] + alphas[:, None, None] * (x - b)[None]
    g = logit_grad(model, path.reshape(-1, x.shape[1]), target.repeat(steps))
    avg = (w[:, None, None] * g.reshape(steps, *x.shape)).sum(0)
    return ((x - b) * avg).detach()
