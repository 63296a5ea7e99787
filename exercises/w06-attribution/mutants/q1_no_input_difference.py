# why: returns the path-averaged gradient and forgets the factor (x - baseline)
def ig_simpson(model, x, target, baseline, steps):
    x = x.detach()
    b = baseline.to(x.dtype).expand_as(x)
    h = 1.0 / (steps - 1)
    w = torch.ones(steps, dtype=x.dtype)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    w = w * h / 3
    alphas = torch.linspace(0, 1, steps, dtype=x.dtype)
    path = b[None] + alphas[:, None, None] * (x - b)[None]
    g = logit_grad(model, path.reshape(-1, x.shape[1]), target.repeat(steps))
    return (w[:, None, None] * g.reshape(steps, *x.shape)).sum(0).detach()
