# why: averages absolute gradients (plain SmoothGrad) instead of squared ones
def smoothgrad_sq(model, x, target, noise):
    x = x.detach()
    S = noise.shape[0]
    noisy = (x[None] + noise.to(x.dtype)).reshape(S * len(x), -1)
    g = logit_grad(model, noisy, target.repeat(S)).reshape(S, *x.shape)
    return g.abs().mean(0).detach()
