# why: ignores the alphas and takes every gradient at the input itself
def expected_gradients(model, x, target, baselines, alphas):
    x = x.detach()
    b = baselines.to(x.dtype)[:, None, :]
    g = logit_grad(model, x, target)
    return ((x[None] - b) * g[None]).mean(0).detach()
